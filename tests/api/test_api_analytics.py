"""GET /history and GET /pnl: the services' documents, their errors, and the locked vault."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.services.analytics import pnl_report, pnl_to_json
from keyfolio.services.history import series_to_json, value_series
from keyfolio.services.snapshots import record_snapshots


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
