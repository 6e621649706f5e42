"""Syncs as a user runs them: the CLI as a subprocess with default settings, at 50 ms per response.

One run measures, against `keyfolio sandbox` subprocesses (50 ms injected latency on every
response, rate limits off):

* OKX, 1 and 50 accounts: `keyfolio sync` (the second one of a data dir: nothing new),
  `keyfolio sync --no-history` and `keyfolio show`, each the best of 2 runs; the same syncs
  in-process (``sync_accounts`` with default settings: no start-up, no vault unlock); and a
  sequential plain-ccxt loop (``fetch_balance()`` of trading and funding per account, defaults);
* 50 accounts spread over the five venues (10 each, one sandbox per venue), through the CLI;
* signed requests per account refresh, per venue, from each sandbox's request log.

Then it prints every ratio of the goals (issue 14) and the request counts (issue 11).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _cli import PASSWORD, best_of, link_accounts, load, run
from _sandbox import VENUES, reset_log, sandbox, signed_per_key, venue_state

from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.sync import sync_accounts

ACCOUNTS = 50
PER_VENUE = ACCOUNTS // len(VENUES)
LATENCY_MS = 50
RUNS = 2


def in_process(home: Path, *, history: bool) -> float:
    """The sync service alone, in this process, with default settings (components only)."""
    app = App(settings=Settings(home=home), password=lambda **_: PASSWORD)
    start = time.perf_counter()
    report = asyncio.run(sync_accounts(app, history=history))
    elapsed = time.perf_counter() - start
    app.close()
    assert all(o.status == "ok" for o in report.outcomes), report.outcomes
    return elapsed


def plain_ccxt(url: str, credentials: list[dict[str, str]]) -> float:
    """What a naive script does: one ccxt instance per account, trading and funding, in turn."""
    import ccxt

    start = time.perf_counter()
    for fields in credentials:
        exchange = ccxt.okx({**fields, "urls": {"api": {"rest": url}}})
        exchange.fetch_balance()
        exchange.fetch_balance({"type": "funding"})
    return time.perf_counter() - start


def per_account(
    urls: dict[str, str], accounts: int, action: Callable[[], object]
) -> dict[str, float]:
    """Signed requests per account of each venue during ``action`` (a reset log before it)."""
    for url in urls.values():
        reset_log(url)
    action()
    return {venue: sum(signed_per_key(url).values()) / accounts for venue, url in urls.items()}


def settle(home: Path, url: str, accounts: int) -> int:
    """Sync until two syncs in a row make the same number of signed requests: the history
    walks still under way after linking (archives OKX prepares over several polls) are done
    and a sync has nothing new. Returns how many syncs that took."""
    previous = None
    for done in range(1, 9):
        count = per_account({"okx": url}, accounts, lambda: run(home, "sync"))["okx"]
        if count == previous:
            return done
        previous = count
    return done


def okx(results: dict[str, float], tmp: Path) -> None:
    state, credentials = venue_state("okx", ACCOUNTS)
    with sandbox(state, latency_ms=LATENCY_MS) as url:
        homes = {}
        for count in (1, ACCOUNTS):
            home = tmp / f"okx{count}"
            links = [("okx", f"acct{i:02d}", url, credentials[i]) for i in range(count)]
            link_accounts(home, links)
            results[f"first sync {count}"] = run(home, "sync")  # markets cache, full history
            results[f"settled {count}"] = settle(home, url, count)
            homes[count] = home
        for count, home in homes.items():
            results[f"sync {count}"] = best_of(RUNS, home, "sync")
            results[f"sync --no-history {count}"] = best_of(RUNS, home, "sync", "--no-history")
            results[f"show {count}"] = best_of(RUNS, home, "show")
            results[f"in-process sync {count}"] = in_process(home, history=True)
            results[f"in-process --no-history {count}"] = in_process(home, history=False)
        counts = per_account({"okx": url}, ACCOUNTS, lambda: run(homes[ACCOUNTS], "sync"))
        results["okx signed per account, sync"] = counts["okx"]
        results["plain ccxt 50"] = plain_ccxt(url, credentials)


def five_venues(results: dict[str, float], tmp: Path) -> None:
    home = tmp / "venues"
    with ExitStack() as stack:
        urls, links = {}, []
        for venue in VENUES:
            state, credentials = venue_state(venue, PER_VENUE)
            url = urls[venue] = stack.enter_context(sandbox(state, latency_ms=LATENCY_MS))
            links += [(venue, f"{venue}{i:02d}", url, credentials[i]) for i in range(PER_VENUE)]
        link_accounts(home, links)
        results["venues first sync"] = run(home, "sync")
        results["venues sync"] = best_of(RUNS, home, "sync")
        results["venues sync --no-history"] = best_of(RUNS, home, "sync", "--no-history")
        refresh = per_account(urls, PER_VENUE, lambda: run(home, "sync", "--no-history"))
        steady = per_account(urls, PER_VENUE, lambda: run(home, "sync"))
        for venue in VENUES:
            results[f"{venue} refresh"] = refresh[venue]
            results[f"{venue} sync"] = steady[venue]


def report(r: dict[str, float], took: float, before: str, after: str) -> None:
    n = ACCOUNTS
    print(f"sandbox latency {LATENCY_MS} ms per response, rate limits off; CLI defaults")
    print(f"{before} at start, {after} at end; this script took {took:.0f} s")
    print("\nOKX, CLI as a subprocess (best of 2)      1 account   50 accounts")
    for label, key in (
        ("keyfolio sync (first, full history)", "first sync"),
        ("keyfolio sync (nothing new)", "sync"),
        ("keyfolio sync --no-history", "sync --no-history"),
        ("keyfolio show", "show"),
        ("in-process sync_accounts (history)", "in-process sync"),
        ("in-process sync_accounts --no-history", "in-process --no-history"),
    ):
        print(f"  {label:<39} {r[f'{key} 1']:6.2f} s    {r[f'{key} {n}']:6.2f} s")
    print(f"  plain ccxt loop, {n} accounts (sequential)           {r['plain ccxt 50']:6.2f} s")
    print(
        f"  (syncs until nothing new after the first: {r['settled 1']:.0f} for 1 account, "
        f"{r[f'settled {n}']:.0f} for {n}: archive walks finish)"
    )
    print(f"\n{n} accounts over {len(VENUES)} venues ({PER_VENUE} each), CLI")
    print(f"  keyfolio sync (first, full history)   {r['venues first sync']:6.2f} s")
    print(f"  keyfolio sync (nothing new)           {r['venues sync']:6.2f} s")
    print(f"  keyfolio sync --no-history            {r['venues sync --no-history']:6.2f} s")
    print("  signed requests per account:  venue     refresh (--no-history)   sync, nothing new")
    for venue in VENUES:
        print(
            f"    {venue:>28}     {r[f'{venue} refresh']:6.1f}"
            f"                {r[f'{venue} sync']:6.1f}"
        )
    print("\nRatios (issue 14 goals, measured in this run)")
    print(
        f"  sync {n} / sync 1 (CLI):                 "
        f"{r[f'sync {n}'] / r['sync 1']:5.2f}x  (goal <= 2x)"
    )
    print(
        f"  plain ccxt loop / sync {n} (CLI):        {r['plain ccxt 50'] / r[f'sync {n}']:5.1f}x  "
        "faster (goal >= 10x)"
    )
    print(
        f"  signed requests per OKX account, nothing new: {r['okx signed per account, sync']:.1f}"
        "  (goal <= 5)"
    )
    print(
        f"  sync --no-history {n} / 1 (CLI):         "
        f"{r[f'sync --no-history {n}'] / r['sync --no-history 1']:5.2f}x"
    )
    print(
        f"  CLI / in-process, sync {n}:              "
        f"{r[f'sync {n}'] / r[f'in-process sync {n}']:5.2f}x (start-up, vault unlock)"
    )
    print(f"  five venues sync / OKX sync, {n} accounts: {r['venues sync'] / r[f'sync {n}']:5.2f}x")


def main() -> None:
    results: dict[str, float] = {}
    before = load()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        okx(results, Path(tmp))
        five_venues(results, Path(tmp))
    report(results, time.perf_counter() - start, before, load())


if __name__ == "__main__":
    main()
