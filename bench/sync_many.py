"""Sync 50 OKX accounts against the sandbox (50 ms latency per request, no rate limit).

Prints two ratios measured in this one run:

1. keyfolio's sync of all 50 accounts vs its sync of 1 account
   (ideal: close to 1, since accounts sync concurrently over one connection pool);
2. keyfolio's sync of all 50 vs a sequential plain-ccxt loop doing ``fetch_balance()``
   for trading and funding per account (what a naive script does).

keyfolio reads four sources per account (plus prices); the plain loop reads two.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _sandbox import bench_state, sandbox

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App
from keyfolio.services.sync import sync_accounts

ACCOUNTS = 50
LATENCY_MS = 50
PASSWORD = "bench-password"


def make_app(home: Path, url: str, count: int) -> App:
    """A data dir with ``count`` linked accounts (written directly, no validation round trip)."""
    settings = Settings(home=home, sync_concurrency=ACCOUNTS)
    app = App(settings=settings, password=lambda **_: PASSWORD)
    vault = app.vault(create=True)
    with app.db().session() as store:
        for i in range(count):
            name = f"acct{i:02d}"
            store.add_account(spec=AccountSpec(exchange="okx", name=name, api_url=url))
            vault.set(
                name,
                Credentials(
                    fields={
                        "apiKey": f"bench-key-{i:02d}",
                        "secret": f"bench-secret-{i:02d}",
                        "password": f"bench-pass-{i:02d}",
                    }
                ),
            )
    return app


def time_keyfolio(url: str, count: int, *, history: bool = False) -> float:
    """A balance refresh (what the plain loop does); ``history`` adds the history import."""
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), url, count)
        asyncio.run(sync_accounts(app))  # first run fills the on-disk markets cache
        start = time.perf_counter()
        report = asyncio.run(sync_accounts(app, history=history))
        elapsed = time.perf_counter() - start
        assert all(o.status == "ok" for o in report.outcomes), report.outcomes
        app.close()
        return elapsed


def time_plain_ccxt(url: str, count: int, *, tuned: bool = False) -> float:
    """The naive loop; ``tuned`` turns ccxt's throttler off and loads spot markets only."""
    import ccxt

    extra = {"enableRateLimit": False, "options": {"fetchMarkets": {"types": ["spot"]}}}
    start = time.perf_counter()
    for i in range(count):
        exchange = ccxt.okx(
            {
                "apiKey": f"bench-key-{i:02d}",
                "secret": f"bench-secret-{i:02d}",
                "password": f"bench-pass-{i:02d}",
                "urls": {"api": {"rest": url}},
                **(extra if tuned else {}),
            }
        )
        exchange.fetch_balance()
        exchange.fetch_balance({"type": "funding"})
    return time.perf_counter() - start


def main() -> None:
    with sandbox(bench_state(ACCOUNTS), latency_ms=LATENCY_MS) as url:
        one = time_keyfolio(url, 1)
        many = time_keyfolio(url, ACCOUNTS)
        with_history = time_keyfolio(url, ACCOUNTS, history=True)
        plain = time_plain_ccxt(url, ACCOUNTS)
        tuned = time_plain_ccxt(url, ACCOUNTS, tuned=True)
    print(f"sandbox latency {LATENCY_MS} ms per request, rate limits off")
    print(f"keyfolio sync, 1 account:               {one:6.2f} s")
    print(f"keyfolio sync, {ACCOUNTS} accounts:             {many:6.2f} s")
    print(f"keyfolio sync + history import, {ACCOUNTS} accounts: {with_history:6.2f} s")
    print(f"plain ccxt loop, {ACCOUNTS} accounts (2 sources): {plain:6.2f} s")
    print(f"plain ccxt loop, tuned (no throttle, spot markets): {tuned:6.2f} s")
    print(f"ratio keyfolio {ACCOUNTS} / keyfolio 1:        {many / one:6.2f}x")
    print(
        f"ratio keyfolio {ACCOUNTS} / plain ccxt {ACCOUNTS}:     {many / plain:6.3f}x "
        f"(keyfolio is {plain / many:.1f}x faster)"
    )
    print(
        f"ratio keyfolio {ACCOUNTS} / tuned ccxt {ACCOUNTS}:     {many / tuned:6.3f}x "
        f"(keyfolio is {tuned / many:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
