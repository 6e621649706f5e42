"""Accounts through the API against the real sandbox: link, refusals, patch, remove."""

from __future__ import annotations

from decimal import Decimal

import httpx
from api_support import (
    ALICE2_KEY,
    ALICE_TOTAL,
    BOB_KEY,
    EEA_KEY,
    READ_KEY,
    UNSAFE_KEY,
    body,
    credentials,
)


async def total(client: httpx.AsyncClient, portfolio: str = "main") -> Decimal:
    response = await client.get(f"/api/v1/portfolios/{portfolio}/summary")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["total_value"])


async def test_link_returns_permissions_first_import_and_masked_key(
    client: httpx.AsyncClient, sandbox_url: str
) -> None:
    response = await client.post(
        "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["permissions"] == ["read_only"] and doc["verified"] is True
    assert doc["sync"] == {"status": "ok"}
    assert any("not bound to an IP" in w for w in doc["warnings"])
    sources = {s["source"]: s for s in doc["sources"]}
    assert set(sources) == {"trading", "funding", "savings", "onchain_earn"}
    assert sources["trading"]["status"] == "ok" and sources["trading"]["assets"] == 3
    account = doc["account"]
    assert account["name"] == "alice" and account["portfolio"] == "main"
    assert account["key"] == "api-…1c7a"
    assert account["status"] == "ok" and account["import_balance"] is True
    assert {s["source"] for s in account["sources"]} == set(sources)
    assert await total(client) == Decimal(ALICE_TOTAL)
    listed = (await client.get("/api/v1/accounts")).json()
    assert [a["name"] for a in listed] == ["alice"] and listed[0]["key"] == "api-…1c7a"
    assert (await client.get("/api/v1/accounts/alice")).json() == listed[0]
    assert (await client.get("/api/v1/accounts", params={"portfolio": "main"})).json() == listed


async def test_unsafe_key_is_refused_with_its_hint_and_nothing_stored(
    client: httpx.AsyncClient, sandbox_url: str, settings
) -> None:
    response = await client.post(
        "/api/v1/accounts", json=body(UNSAFE_KEY, name="risky", url=sandbox_url)
    )
    assert response.status_code == 400
    doc = response.json()
    assert doc["error"] == "unsafe_key"
    assert "withdraw" in doc["message"] and "Read" in doc["hint"]
    assert (await client.get("/api/v1/accounts")).json() == []
    assert not settings.vault_path.exists()


async def test_wrong_passphrase_secret_and_region_get_their_own_codes_and_hints(
    client: httpx.AsyncClient, sandbox_url: str
) -> None:
    bad_pass = {**READ_KEY, "passphrase": "wrong-pass-PLANTED-9z"}
    response = await client.post("/api/v1/accounts", json=body(bad_pass, name="a", url=sandbox_url))
    assert response.status_code == 400
    assert response.json()["error"] == "wrong_passphrase"
    assert "recover" in response.json()["hint"]
    bad_secret = {**READ_KEY, "secret": "wrong-secret-PLANTED-8y"}
    response = await client.post(
        "/api/v1/accounts", json=body(bad_secret, name="b", url=sandbox_url)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_signature"
    response = await client.post("/api/v1/accounts", json=body(EEA_KEY, name="c", url=sandbox_url))
    assert response.status_code == 400 and response.json()["error"] == "key_not_in_region"
    assert "eea" in response.json()["hint"]


async def test_link_input_errors(linked: httpx.AsyncClient, sandbox_url: str) -> None:
    client = linked
    cases = [
        (body(BOB_KEY, name="alice", url=sandbox_url), 409, "conflict"),
        (body(ALICE2_KEY, name="again", url=sandbox_url), 409, "conflict"),  # same uid
        (body(BOB_KEY, name="bob", url=sandbox_url, portfolio="nope"), 404, "not_found"),
        (body(BOB_KEY, name="bad name", url=sandbox_url), 400, "usage_error"),
        (body(BOB_KEY, name="bob", url="https://example.com"), 400, "usage_error"),
        (body(BOB_KEY, name="bob", url=sandbox_url, exchange="nosuchexchange"), 400, "unsupported"),
        (
            body(BOB_KEY, name="bob", url=sandbox_url, exchange="myokx", region="us"),
            400,
            "usage_error",
        ),
        (
            {**body(BOB_KEY, name="bob", url=sandbox_url), "credentials": {"api_key": "x"}},
            422,
            "validation",
        ),
        ({**body(BOB_KEY, name="bob", url=sandbox_url), "region": "mars"}, 422, "validation"),
        ({**body(BOB_KEY, name="bob", url=sandbox_url), "extra": 1}, 422, "validation"),
    ]
    for payload, status, code in cases:
        response = await client.post("/api/v1/accounts", json=payload)
        assert (response.status_code, response.json()["error"]) == (status, code), payload
        assert response.json()["message"] and response.json()["hint"]
    blank = {**body(BOB_KEY, name="bob", url=sandbox_url)}
    blank["credentials"] = {**blank["credentials"], "passphrase": "   "}
    response = await client.post("/api/v1/accounts", json=blank)
    assert response.status_code == 400 and "Passphrase" in response.json()["message"]
    assert [a["name"] for a in (await client.get("/api/v1/accounts")).json()] == ["alice"]


async def test_unreachable_exchange_is_502_with_a_hint(client: httpx.AsyncClient) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = await client.post(
        "/api/v1/accounts", json=body(BOB_KEY, name="bob", url=f"http://127.0.0.1:{port}")
    )
    assert response.status_code == 502
    assert response.json()["error"] == "exchange_unavailable"
    assert "Nothing was stored" in response.json()["hint"]


async def test_patch_toggles_import_balance_moves_and_rotates(
    linked: httpx.AsyncClient, sandbox_url: str
) -> None:
    client = linked
    response = await client.patch("/api/v1/accounts/alice", json={"import_balance": False})
    assert response.status_code == 200 and response.json()["import_balance"] is False
    assert await total(client) == 0
    response = await client.patch("/api/v1/accounts/alice", json={"import_balance": True})
    assert await total(client) == Decimal(ALICE_TOTAL)
    assert (await client.post("/api/v1/portfolios", json={"name": "long"})).status_code == 201
    response = await client.patch("/api/v1/accounts/alice", json={"portfolio": "long"})
    assert response.status_code == 200 and response.json()["portfolio"] == "long"
    assert await total(client) == 0 and await total(client, "long") == Decimal(ALICE_TOTAL)
    response = await client.patch(
        "/api/v1/accounts/alice", json={"credentials": credentials(ALICE2_KEY)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["key"] == "api-…1d2e"
    response = await client.patch(
        "/api/v1/accounts/alice", json={"credentials": credentials(BOB_KEY)}
    )
    assert response.status_code == 409 and "uid" in response.json()["message"]
    response = await client.patch("/api/v1/accounts/alice", json={"portfolio": "nope"})
    assert response.status_code == 404
    response = await client.patch("/api/v1/accounts/nobody", json={"import_balance": True})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = await client.patch("/api/v1/accounts/alice", json={"import_balance": "maybe"})
    assert response.status_code == 422


async def test_delete_removes_the_account_and_its_key(linked: httpx.AsyncClient, settings) -> None:
    client = linked
    response = await client.delete("/api/v1/accounts/alice")
    assert response.status_code == 204 and response.content == b""
    assert (await client.get("/api/v1/accounts")).json() == []
    assert await total(client) == 0
    response = await client.delete("/api/v1/accounts/alice")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
