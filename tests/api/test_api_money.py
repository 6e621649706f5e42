"""The API with a stored value outside the money bounds: 200s that leave it out and report it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.history import Trade, TradeSide
from keyfolio.domain.records import Price
from keyfolio.services.snapshots import record_snapshots


async def test_summary_history_and_pnl_leave_it_out_and_report_it(
    client: httpx.AsyncClient, api: FastAPI
) -> None:
    app = api.state.keyfolio.app
    now = datetime.now(UTC)
    held = [SourceResult(Source.TRADING, SourceStatus.OK, {"USDT": Decimal("1e30"),
                                                           "BTC": Decimal("0.5")})]  # fmt: skip
    with app.db().session() as store:  # what an older keyfolio stored, through the storage layer
        store.add_account(spec=AccountSpec(exchange="manual", name="cold"))
        store.record_sync(name="cold", results=held, synced_at=now)
        store.upsert_prices(prices=[Price("BTC", Decimal(60000), "okx:BTC-USDT", now)])
        store.history.add_trades(
            [Trade("cold", "t1", now, "BTC", "USDT", TradeSide.BUY, Decimal("1e-30"), Decimal(1))]
        )
    record_snapshots(app, account="cold", results=held, at=now)

    summary = await client.get("/api/v1/summary")
    assert summary.status_code == 200, summary.text
    doc = summary.json()
    assert doc["total_value"] == "30000" and [h["asset"] for h in doc["holdings"]] == ["BTC"]
    [refused] = doc["refused"]
    assert (refused["account"], refused["asset"], refused["field"]) == ("cold", "USDT", "amount")
    assert refused["value"] == "1" + "0" * 30 and "larger than 10^18" in refused["reason"]
    assert "keyfolio holding remove USDT --account cold" in refused["hint"]

    series = await client.get("/api/v1/history", params={"window": "24h"})
    assert series.status_code == 200, series.text
    assert [item["asset"] for item in series.json()["refused"]] == ["USDT"]

    pnl = await client.get("/api/v1/pnl")
    assert pnl.status_code == 200, pnl.text
    where = {(item["where"], item["asset"]) for item in pnl.json()["refused"]}
    assert where == {("trading balance", "USDT"), ("trade t1", "BTC")}
    assert pnl.json()["assets"][0]["asset"] == "BTC"
