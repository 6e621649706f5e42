"""Network faults during a sync, against the real sandbox: the last good data always survives.

Every case syncs once cleanly, injects a sandbox fault, syncs again, and checks the four
guarantees of docs/reliability.md: the last good amounts stay, the sources that could not be
read are marked stale, no zero is written (not in the balances, not in the value series),
and the error says what failed and what to do. Retries are counted in the sandbox's request
log, never timed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from services_support import linked_app, okx_fields, snapshot_amounts, stored

from keyfolio.config import Settings
from keyfolio.domain.balances import Source
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state
from keyfolio.services.context import App
from keyfolio.services.sync import SyncReport, sync_accounts
from keyfolio.services.view import portfolio_view

PASSWORD = "pw-services-faults-71d"
KEY = {"apiKey": "faults-key-2e9a", "secret": "faults-secret-PLANTED-5b3c", "passphrase": "Fp-4d"}
STATE: dict[str, Any] = {
    "tickers": {"BTC-USDT": {"last": "60000"}, "ETH-USDT": {"last": "3000"}},
    "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
    "accounts": {"alice": {"trading": {"BTC": "0.5", "USDT": "1000"}, "funding": {"ETH": "2"}}},
}
GOOD = {
    (Source.TRADING, "BTC"): Decimal("0.5"),
    (Source.TRADING, "USDT"): Decimal(1000),
    (Source.FUNDING, "ETH"): Decimal(2),
}
GOOD_TOTAL = Decimal(37000)  # 0.5 × 60000 + 1000 + 2 × 3000
BALANCE = "/api/v5/account/balance"
FUNDING = "/api/v5/asset/balances"


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with run_sandbox(parse_state(STATE), rate_limit=False) as base:
        yield base


async def control(url: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            "GET" if body is None else "POST", f"{url}/__sandbox__/{path}", json=body
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def make_app(home: Path, url: str, **settings: Any) -> App:
    config = Settings(home=home, retries=1, **settings)
    return linked_app(config, PASSWORD, "okx", url, okx_fields(KEY))


def reopen(app: App, **settings: Any) -> App:
    """The same data directory with other settings (as the next `keyfolio` run would be)."""
    app.close()
    changed = replace(app.settings, **settings)
    return App(settings=changed, password=lambda **_: PASSWORD)


def client_timeout(fault: dict[str, Any]) -> dict[str, Any]:
    """A client timeout shorter than a held ``timeout`` fault (the other faults answer at once,
    so they keep the default and a loaded machine cannot turn them into timeouts)."""
    return {"request_timeout_seconds": 1.0} if fault["mode"] == "timeout" else {}


async def synced_once(tmp_path: Path, url: str, **settings: Any) -> App:
    """An app whose one account has synced cleanly (the last good data), request log emptied."""
    app = make_app(tmp_path / "home", url, **settings)
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    assert {k: amount for k, (amount, _) in stored(app).items()} == GOOD
    await control(url, "reset-log", {})
    return app


def assert_last_good_data_kept(app: App, snapshots_before: list[Decimal], *, stale: set[Source]):
    """Same amounts, the unread sources (and only they) stale, no zero anywhere, same total."""
    after = stored(app)
    assert {k: amount for k, (amount, _) in after.items()} == GOOD
    assert {source for (source, _), (_, is_stale) in after.items() if is_stale} == stale
    amounts = snapshot_amounts(app)
    assert Decimal(0) not in amounts and amounts[: len(snapshots_before)] == snapshots_before
    view = portfolio_view(app)
    assert view.total_value == GOOD_TOTAL and view.is_partial
    assert all(h.amount > 0 for h in view.holdings)


def assert_clear_error(app: App, report: SyncReport, *words: str, venue: str = "OKX") -> None:
    """Each source that could not be read says why (naming the venue and the account) and what
    to do, in the report and as stored for `show` and the dashboard; no secret in either."""
    (outcome,) = report.outcomes
    failed = [(r.source, r.error, r.hint) for r in outcome.results if r.error]
    with app.db().session(read_only=True) as store:
        states = store.source_states(account="alice")
    assert failed and failed == [(s.source, s.error, s.hint) for s in states if s.error]
    for _, message, hint in failed:
        assert message and hint and venue in message and "'alice'" in message, message
        for word in words:
            assert word in f"{message} {hint}".lower(), (word, message, hint)
    assert "PLANTED" not in repr(report) + repr(states)


def codes(log: list[dict[str, Any]], path: str) -> list[str]:
    return [entry["code"] for entry in log if entry["path"].split("?")[0] == path]


CASES = {
    "http500": ({"mode": "http500"}, "50026"),
    "unavailable": ({"mode": "unavailable"}, "50001"),
    "timeout": ({"mode": "timeout", "seconds": 600}, "50004"),
    "reset": ({"mode": "reset"}, "reset"),
    "malformed": ({"mode": "malformed"}, "malformed"),
}
"""Each network fault's sandbox mode and the code it leaves in the request log."""
TEMPORARY = "Hint: This is usually temporary … earlier data is kept"
RETRIED = "nothing: the failed request is retried once and the sync succeeds"
FAILING = [
    pytest.param(
        *CASES["http500"],
        marks=pytest.mark.fault("http500", sees=f"Error: OKX had a system error … {TEMPORARY}"),
        id="http500",
    ),
    pytest.param(
        *CASES["unavailable"],
        marks=pytest.mark.fault(
            "unavailable", sees=f"Error: OKX is temporarily unavailable … {TEMPORARY}"
        ),
        id="unavailable",
    ),
    pytest.param(
        *CASES["timeout"],
        marks=pytest.mark.fault(
            "timeout", sees=f"Error: OKX is unavailable or did not answer … {TEMPORARY}"
        ),
        id="timeout",
    ),
    pytest.param(
        *CASES["reset"],
        marks=pytest.mark.fault(
            "reset", sees=f"Error: OKX is unavailable or did not answer … {TEMPORARY}"
        ),
        id="reset",
    ),
    pytest.param(
        *CASES["malformed"],
        marks=pytest.mark.fault(
            "malformed", sees=f"Error: OKX sent an unreadable answer … {TEMPORARY}"
        ),
        id="malformed",
    ),
]


@pytest.mark.parametrize(("fault", "code"), FAILING)
async def test_an_exchange_failing_every_request_keeps_the_last_good_data_stale(
    tmp_path: Path, url: str, fault: dict[str, Any], code: str
) -> None:
    app = await synced_once(tmp_path, url)
    before = snapshot_amounts(app)
    app = reopen(app, **client_timeout(fault))
    await control(url, "faults", {"path": "*", "count": 100, **fault})
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["failed"]
    assert_last_good_data_kept(app, before, stale={Source.TRADING, Source.FUNDING})
    assert_clear_error(app, report, "temporary", "earlier data is kept")
    log = await control(url, "requests")
    assert codes(log, BALANCE) == [code, code]  # tried, retried once (retries=1), gave up
    app.close()


@pytest.mark.fault("http500", sees=RETRIED)
@pytest.mark.fault("unavailable", sees=RETRIED)
@pytest.mark.fault("timeout", sees=RETRIED)
@pytest.mark.fault("reset", sees=RETRIED)
@pytest.mark.fault("malformed", sees=RETRIED)
@pytest.mark.parametrize(("fault", "code"), list(CASES.values()), ids=list(CASES))
async def test_one_failed_request_is_retried_and_the_sync_succeeds(
    tmp_path: Path, url: str, fault: dict[str, Any], code: str
) -> None:
    app = reopen(await synced_once(tmp_path, url), **client_timeout(fault))
    await control(url, "balances", {"account": "alice", "source": "trading", "ccy": "BTC",
                                    "amount": "0.75"})  # fmt: skip
    await control(url, "faults", {"path": BALANCE, "count": 1, **fault})
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    assert stored(app)[Source.TRADING, "BTC"] == (Decimal("0.75"), False)
    assert codes(await control(url, "requests"), BALANCE) == [code, "0"]
    app.close()


@pytest.mark.fault("one_source", sees="the account is partial; only that source is stale")
async def test_one_failing_source_is_stale_and_the_others_are_fresh(
    tmp_path: Path, url: str
) -> None:
    app = await synced_once(tmp_path, url)
    before = snapshot_amounts(app)
    await control(url, "balances", {"account": "alice", "source": "trading", "ccy": "BTC",
                                    "amount": "0.5"})  # fmt: skip
    await control(url, "faults", {"path": FUNDING, "mode": "http500", "count": 100})
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["partial"]
    assert_last_good_data_kept(app, before, stale={Source.FUNDING})
    assert_clear_error(app, report, "temporary")
    with app.db().session(read_only=True) as store:  # the funding ETH was not read: no new zero
        funding = [s for s in store.snapshots.snapshots(account="alice") if s.asset == "ETH"]
    assert [s.amount for s in funding] == [Decimal(2)]
    app.close()


@pytest.fixture
async def binance_url() -> AsyncIterator[str]:
    from binance_support import binance_state

    async with run_sandbox(parse_state(binance_state()), rate_limit=False) as base:
        yield base


async def binance_synced_once(tmp_path: Path, url: str, **settings: Any) -> App:
    from binance_support import BN_READ

    app = linked_app(Settings(home=tmp_path, **settings), PASSWORD, "binance", url, dict(BN_READ))
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    await control(url, "reset-log", {})
    return app


SPOT = "/api/v3/account"


@pytest.mark.fault("rate_limit", sees="nothing: keyfolio waits out each Retry-After, then succeeds")
async def test_a_429_storm_is_waited_out_per_retry_after_and_the_sync_succeeds(
    tmp_path: Path, binance_url: str
) -> None:
    app = await binance_synced_once(tmp_path, binance_url, retries=2)
    await control(binance_url, "balances", {"account": "alice", "source": "spot", "ccy": "BTC",
                                            "amount": "0.75"})  # fmt: skip
    await control(binance_url, "faults", {"path": SPOT, "mode": "rate_limit", "count": 2})
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    with app.db().session(read_only=True) as store:
        btc = [b for b in store.balances() if b.source is Source.TRADING and b.asset == "BTC"]
    assert [(b.amount, b.stale) for b in btc] == [(Decimal("0.75"), False)]
    # 429 with Retry-After twice, then the answer: each retry came after the host's cooldown
    assert codes(await control(binance_url, "requests"), SPOT) == ["-1003", "-1003", "0"]
    app.close()


@pytest.mark.fault(
    "rate_limit",
    sees="Error: Binance is rate limiting requests … Hint: sync again in a minute",
)
async def test_a_429_storm_longer_than_the_retries_keeps_the_last_good_data(
    tmp_path: Path, binance_url: str
) -> None:
    app = await binance_synced_once(tmp_path, binance_url, retries=1)
    with app.db().session(read_only=True) as store:
        good = {(b.source, b.asset): b.amount for b in store.balances()}
    await control(binance_url, "faults", {"path": SPOT, "mode": "rate_limit", "count": 100})
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["partial"]
    with app.db().session(read_only=True) as store:
        after = store.balances()
    assert {(b.source, b.asset): b.amount for b in after} == good
    assert {b.source for b in after if b.stale} == {Source.TRADING}
    assert all(b.amount > 0 for b in after)
    assert_clear_error(app, report, "rate", venue="Binance")
    assert codes(await control(binance_url, "requests"), SPOT) == ["-1003", "-1003"]
    app.close()


_SYNC_CHILD = """
import asyncio, sys
from pathlib import Path
from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.sync import sync_accounts
app = App(settings=Settings(home=Path(sys.argv[1]), retries=1), password=lambda **_: sys.argv[2])
asyncio.run(sync_accounts(app))
print("finished")
"""


@pytest.mark.fault("kill_sync", sees="the last good data, intact; the next sync completes")
async def test_a_sync_killed_mid_flight_leaves_the_last_good_data_intact(
    tmp_path: Path, url: str
) -> None:
    app = await synced_once(tmp_path, url)
    before, good = snapshot_amounts(app), stored(app)
    app.close()
    # new amounts on the exchange; the child reads all but the trading balance, which is held
    for source, ccy, amount in (("trading", "BTC", "0.75"), ("funding", "ETH", "3")):
        body = {"account": "alice", "source": source, "ccy": ccy, "amount": amount}
        await control(url, "balances", body)
    await control(url, "faults", {"path": BALANCE, "mode": "hold"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    log = tmp_path / "child.log"
    home = str(tmp_path / "home")
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", _SYNC_CHILD, home, PASSWORD], env=env, stderr=out
        )
    try:
        held = await control(url, "faults/held?wait=60")  # the child is at a known point
        assert [h["path"] for h in held["held"]] == [BALANCE], log.read_text()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    await control(url, "faults/release", {})
    with sqlite3.connect(tmp_path / "home" / "keyfolio.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    app = make_app_again(tmp_path / "home")
    assert stored(app) == good  # not half of the new sync, not stale, no zero
    assert snapshot_amounts(app) == before
    report = await sync_accounts(app, history=False)  # the next sync completes
    assert [o.status for o in report.outcomes] == ["ok"]
    assert stored(app)[Source.TRADING, "BTC"] == (Decimal("0.75"), False)
    assert stored(app)[Source.FUNDING, "ETH"] == (Decimal(3), False)
    app.close()


def make_app_again(home: Path) -> App:
    return App(settings=Settings(home=home, retries=1), password=lambda **_: PASSWORD)


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            _flip_last_byte,
            marks=pytest.mark.fault(
                "vault_tampered",
                sees="Error: could not unlock the vault … Hint: wrong password or damaged file",
            ),
            id="tampered",
        ),
        pytest.param(
            lambda data: data[: len(data) // 2],
            marks=pytest.mark.fault(
                "vault_truncated",
                sees="Error: … the file is truncated … Hint: restore it from a backup",
            ),
            id="truncated",
        ),
    ],
)
async def test_a_damaged_vault_syncs_nothing_and_keeps_the_last_good_data(
    tmp_path: Path, url: str, damage: Any
) -> None:
    from keyfolio.errors import VaultError

    app = await synced_once(tmp_path, url)
    before = snapshot_amounts(app)
    app.close()
    vault = tmp_path / "home" / "vault.bin"
    damaged = damage(vault.read_bytes())
    vault.write_bytes(damaged)
    app = make_app_again(tmp_path / "home")
    with pytest.raises(VaultError) as caught:
        await sync_accounts(app, history=False)
    error = caught.value
    assert "vault" in error.message.lower() and error.hint, error
    assert error.exit_code == 2
    assert "PLANTED" not in f"{error.message} {error.hint}"
    assert await control(url, "requests") == []  # nothing was sent: no key was read
    assert vault.read_bytes() == damaged  # refused, never rewritten
    after = stored(app)
    assert {k: amount for k, (amount, _) in after.items()} == GOOD
    assert Decimal(0) not in snapshot_amounts(app) and snapshot_amounts(app) == before
    app.close()
