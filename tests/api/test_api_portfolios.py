"""Portfolios CRUD and the summary: exactly the `keyfolio show --json` document."""

from __future__ import annotations

import httpx

from keyfolio.services.summary import portfolio_summary


async def test_portfolio_crud(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/portfolios")).json() == [
        {"name": "main", "accounts": 0, "total_value": None}
    ]
    created = await client.post("/api/v1/portfolios", json={"name": "long"})
    assert created.status_code == 201 and created.json()["name"] == "long"
    taken = await client.post("/api/v1/portfolios", json={"name": "long"})
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"
    renamed = await client.patch("/api/v1/portfolios/long", json={"name": "hodl"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "hodl"
    names = [p["name"] for p in (await client.get("/api/v1/portfolios")).json()]
    assert names == ["hodl", "main"]
    assert (await client.patch("/api/v1/portfolios/nope", json={"name": "x"})).status_code == 404
    assert (await client.patch("/api/v1/portfolios/main", json={"name": "x"})).status_code == 409
    assert (await client.delete("/api/v1/portfolios/main")).status_code == 409
    assert (await client.delete("/api/v1/portfolios/nope")).status_code == 404
    removed = await client.delete("/api/v1/portfolios/hodl")
    assert removed.status_code == 204 and removed.content == b""
    assert (await client.post("/api/v1/portfolios", json={"name": ""})).status_code == 422
    assert (await client.post("/api/v1/portfolios", json={"name": "a" * 65})).status_code == 422


async def test_non_empty_portfolio_cannot_be_removed(linked: httpx.AsyncClient) -> None:
    client = linked
    await client.post("/api/v1/portfolios", json={"name": "long"})
    await client.patch("/api/v1/accounts/alice", json={"portfolio": "long"})
    refused = await client.delete("/api/v1/portfolios/long")
    assert refused.status_code == 409 and "alice" in refused.json()["message"]
    listed = {p["name"]: p for p in (await client.get("/api/v1/portfolios")).json()}
    assert listed["long"] == {"name": "long", "accounts": 1, "total_value": "39670"}
    assert listed["main"] == {"name": "main", "accounts": 0, "total_value": None}


async def test_summary_is_exactly_the_show_json_document(linked: httpx.AsyncClient, api) -> None:
    client = linked
    summary = await client.get("/api/v1/portfolios/main/summary")
    assert summary.status_code == 200
    expected = portfolio_summary(api.state.keyfolio.app, portfolio="main")
    assert summary.json() == expected
    assert (await client.get("/api/v1/summary")).json() == expected
    assert (await client.get("/api/v1/summary", params={"portfolio": "main"})).json() == expected
    doc = summary.json()
    by_asset = {h["asset"]: h for h in doc["holdings"]}
    assert by_asset["BTC"]["amount"] == "0.5" and by_asset["BTC"]["value"] == "30000"
    assert doc["unpriced"] == ["NOMARKET"]
    missing = await client.get("/api/v1/portfolios/nope/summary")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await client.get("/api/v1/summary", params={"portfolio": "nope"})).status_code == 404
