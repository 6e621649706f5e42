"""GET /history and GET /pnl: the services' documents, their errors, and the locked vault."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.services.analytics import pnl_report, pnl_to_json
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.values import series_to_json, value_series


async def test_history_is_the_services_series(linked: httpx.AsyncClient, api: FastAPI) -> None:
    client = linked
    app = api.state.keyfolio.app
    accounts = (await client.get("/api/v1/accounts")).json()
    assert accounts[0]["status"] == "ok"
    trading = SourceResult(Source.TRADING, SourceStatus.OK, {"BTC": Decimal("0.5")})
    record_snapshots(app, account="alice", results=[trading], at=datetime.now(UTC))
    for params in ({}, {"window": "24h"}, {"window": "all", "account": "alice"}, {"asset": "BTC"}):
        response = await client.get("/api/v1/history", params=params)
        assert response.status_code == 200, response.text
        doc = response.json()
        expected = series_to_json(value_series(app, **params))
        assert {k: v for k, v in doc.items() if k not in ("start", "end")} == {
            k: v for k, v in expected.items() if k not in ("start", "end")
        }
        assert doc["currency"] == "USD" and doc["points"], params
        assert all(isinstance(p["value"], str) for p in doc["points"])
    assert (await client.get("/api/v1/history", params={"window": "2w"})).status_code == 400
    missing = await client.get("/api/v1/history", params={"portfolio": "nope"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    nobody = await client.get("/api/v1/history", params={"account": "nobody"})
    assert nobody.status_code == 404


async def test_pnl_is_the_services_report(linked: httpx.AsyncClient, api: FastAPI) -> None:
    client = linked
    app = api.state.keyfolio.app
    for method in ("fifo", "average"):
        response = await client.get("/api/v1/pnl", params={"method": method})
        assert response.status_code == 200, response.text
        assert response.json() == pnl_to_json(pnl_report(app, method=method))
        assert response.json()["method"] == method
    assert (await client.get("/api/v1/pnl", params={"method": "lifo"})).status_code == 422
    assert (await client.get("/api/v1/pnl", params={"portfolio": "nope"})).status_code == 404


async def test_pnl_lots_total_is_the_realized_pnl(linked: httpx.AsyncClient, api: FastAPI) -> None:
    from keyfolio.services.analytics import lots_report, lots_to_json
    from keyfolio.services.manual import add_trade

    client = linked
    app = api.state.keyfolio.app
    for side, price, day in (("buy", "40000", 2), ("sell", "50000", 3)):
        add_trade(
            app,
            account="cold",
            pair="BTC-USDT",
            side=side,
            amount="0.5",
            price=price,
            fee="10",
            at=f"2025-01-0{day}T00:00:00Z",
        )
    for method in ("fifo", "average"):
        response = await client.get("/api/v1/pnl/lots", params={"method": method})
        assert response.status_code == 200, response.text
        doc = response.json()
        assert doc == lots_to_json(lots_report(app, method=method))
        assert list(doc) == ["method", "currency", "lots", "total_gain"]
        pnl = (await client.get("/api/v1/pnl", params={"method": method})).json()
        assert doc["total_gain"] == pnl["total_realized"] == "4980"
        (lot,) = doc["lots"]
        assert lot == {
            "asset": "BTC",
            "account": "cold",
            "disposed_at": "2025-01-03T00:00:00Z",
            "acquired_at": "2025-01-02T00:00:00Z",
            "amount": "0.5",
            "cost": "20010",
            "proceeds": "24990",
            "fee": "10",
            "gain": "4980",
            "holding_days": 1,
        }
    assert (await client.get("/api/v1/pnl/lots", params={"portfolio": "nope"})).status_code == 404


async def test_reconcile_is_the_services_report(linked: httpx.AsyncClient, api: FastAPI) -> None:
    from keyfolio.services.reconcile import reconcile_accounts, reconcile_to_json

    client = linked
    app = api.state.keyfolio.app
    response = await client.get("/api/v1/reconcile", params={"portfolio": "main"})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc == reconcile_to_json(reconcile_accounts(app, portfolio="main").report)
    (alice,) = doc["accounts"]
    assert alice["account"] == "alice" and alice["assets"]
    for row in alice["assets"]:
        assert list(row) == ["asset", "reported", "implied", "difference", "cause"]
        assert all(isinstance(row[key], str) for key in ("reported", "implied", "difference"))
    assert (await client.get("/api/v1/reconcile", params={"account": "alice"})).json() == doc
    missing = await client.get("/api/v1/reconcile", params={"account": "nobody"})
    assert missing.status_code == 404 and missing.json()["hint"]
    assert (await client.get("/api/v1/reconcile", params={"portfolio": "nope"})).status_code == 404
