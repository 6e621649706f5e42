"""Helpers for the dashboard's browser tests: keys, a sandbox state and small HTTP calls."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from cli_support import base_state as cli_base_state

PASSWORD = "vault-pw-for-web-tests-4e7a"
READ_KEY = {
    "apiKey": "web-ro-key-3c9d1e",
    "secret": "web-ro-secret-PLANTED-a81f2c",
    "passphrase": "web-ro-pass-6b0d",
}
BOB_KEY = {
    "apiKey": "web-bob-key-2f4a",
    "secret": "web-bob-secret-9e1c",
    "passphrase": "web-bob-7d3e",
}

ALICE_TOTAL = "$39,670.00"
"""alice's total: 0.5 BTC x 60000 + 2 ETH x 3000 + 1550 USDT + 10 SOL x 150 + 100 ABC x 6
+ 10 XYZ x 2 (NOMARKET is unpriced)."""


def base_state() -> dict[str, Any]:
    """cli_support's state (alice in all four sources, bob with 2 BTC) with 24h opens for the
    movers and the holdings' 24h column."""
    state = cli_base_state()
    state["tickers"]["ETH-USDT"]["open24h"] = "3100"
    state["tickers"]["SOL-USDT"]["open24h"] = "140"
    state["keys"] = [
        {**creds, "perm": "read_only", "account": account, "label": "tracker"}
        for creds, account in ((READ_KEY, "alice"), (BOB_KEY, "bob"))
    ]
    return state


def post(url: str, body: dict[str, Any] | None = None) -> Any:
    """POST JSON to a loopback server; the parsed answer (None for an empty body)."""
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def get(url: str) -> Any:
    """GET JSON from a loopback server."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def link_body(
    name: str, creds: dict[str, str], sandbox: str, *, portfolio: str = "main"
) -> dict[str, Any]:
    """The POST /api/v1/accounts body for a sandbox key."""
    return {
        "exchange": "okx",
        "name": name,
        "region": "global",
        "portfolio": portfolio,
        "import_balance": True,
        "api_url": sandbox,
        "demo": False,
        "credentials": {
            "api_key": creds["apiKey"],
            "secret": creds["secret"],
            "passphrase": creds["passphrase"],
        },
    }


def seed_history(settings: Any, *, days: int = 30, now: Any = None) -> None:
    """Write a month of daily snapshot sets of alice and bob (real amounts, moving prices).

    Prices walk deterministically in whole dollars (no floats) and end at the sandbox's
    current prices, so the chart ends at the total the overview shows.
    """
    import random
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from keyfolio.domain.records import Snapshot
    from keyfolio.services.context import App

    end = now or datetime.now(UTC)
    holdings = {
        ("alice", "trading"): {"BTC": "0.5", "USDT": "1000", "ABC": "100"},
        ("alice", "funding"): {"ETH": "2", "USDT": "50"},
        ("alice", "savings"): {"USDT": "500", "XYZ": "10"},
        ("alice", "onchain_earn"): {"SOL": "10"},
        ("bob", "trading"): {"BTC": "2"},
    }
    final = {"BTC": 60000, "ETH": 3000, "SOL": 150, "ABC": 6, "XYZ": 2, "USDT": 1}
    rng = random.Random(7)
    walks: dict[str, list[int]] = {}
    for asset, last in final.items():
        prices = [last]
        for _ in range(days):
            step = rng.randint(-40, 42) if last > 1 else 0  # tenths of a percent per day
            prices.append(max(1, prices[-1] - prices[-1] * step // 1000))
        walks[asset] = prices[::-1]
    app = App(settings=settings, password=lambda **_: PASSWORD)
    with app.db().session() as store:
        for day in range(days):
            at = end - timedelta(days=days - day, minutes=5)
            for (account, source), amounts in holdings.items():
                rows = []
                for asset, text in amounts.items():
                    amount, price = Decimal(text), Decimal(walks[asset][day])
                    rows.append(
                        Snapshot(
                            at=at,
                            account=account,
                            source=source,
                            asset=asset,
                            amount=amount,
                            price=price,
                            price_source="seed",
                            value=amount * price,
                        )
                    )
                store.snapshots.record(account=account, source=source, at=at, rows=rows)
