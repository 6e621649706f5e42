"""Trade to event: ``POST /__sandbox__/trade`` to ``portfolio.updated`` (reason ``trade``).

`keyfolio sandbox` runs in its own process; the live engine (one OKX account, its private
WebSocket and tickers) runs here. Each of 50 trades is timed from just before the control
call until the engine has re-read the trading balance, written it and its snapshots, imported
the new fill and published ``portfolio.updated``. Trades alternate sell/buy of 0.001 BTC.

Run twice: with no injected latency (keyfolio's own cost) and with 50 ms on every OKX response
(REST and the WebSocket handshake), closer to a real connection. Goal: p95 <= 1 s.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _sandbox import bench_state, sandbox

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App
from keyfolio.services.live import LiveEngine

TRADES = 50
PASSWORD = "bench-password"


def make_app(home: Path, url: str) -> App:
    app = App(settings=Settings(home=home), password=lambda **_: PASSWORD)
    vault = app.vault(create=True)
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="acct00", api_url=url))
    vault.set(
        "acct00",
        Credentials(
            fields={
                "apiKey": "bench-key-00",
                "secret": "bench-secret-00",
                "password": "bench-pass-00",
            }
        ),
    )
    return app


async def measure(url: str) -> list[float]:
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), url)
        try:
            async with (
                httpx.AsyncClient(base_url=url, timeout=30) as http,
                app.bus.subscribe(frozenset({"portfolio.updated"})) as events,
                LiveEngine(app) as engine,
            ):
                await asyncio.wait_for(engine.wait_ready(), 60)
                assert engine.statuses == {"acct00": "live"}, engine.statuses
                for i in range(TRADES):
                    side = "sell" if i % 2 == 0 else "buy"
                    body = {"account": "acct00", "instId": "BTC-USDT", "side": side, "sz": "0.001"}
                    started = time.perf_counter()
                    response = await http.post("/__sandbox__/trade", json=body)
                    response.raise_for_status()
                    async with asyncio.timeout(30):
                        while (await events.get()).data.get("reason") != "trade":
                            pass
                    latencies.append(time.perf_counter() - started)
        finally:
            app.close()
    return latencies


def report(label: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"{label}: {len(ordered)} trades, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms (goal p95 <= 1000 ms)"
    )


def main() -> None:
    for latency_ms in (0, 50):
        with sandbox(bench_state(1), latency_ms=latency_ms) as url:
            report(f"latency {latency_ms} ms", asyncio.run(measure(url)))


if __name__ == "__main__":
    main()
