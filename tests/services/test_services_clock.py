"""A skewed clock during a sync, against the real sandbox with its own clock moved.

The exchange's clock is set ahead of this machine's (or behind it) with the sandbox's control
API, as a machine whose clock drifted would meet it: every signed request is refused for its
timestamp. The sync then fails that account with the measured offset, in the right direction,
and the hint to synchronise the clock; the last good balances stay, marked stale; no zero is
written. With the clocks in step again the next sync succeeds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from binance_support import BN_READ, binance_state
from cli_support import READ_KEY, base_state, control
from services_support import linked_app, snapshot_amounts, stored

from keyfolio.config import Settings
from keyfolio.errors import ClockSkewError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.services.context import App
from keyfolio.services.sync import sync_accounts
from keyfolio.services.view import portfolio_view

PASSWORD = "pw-services-clock-3f8"
SKEW = 120
"""Seconds, beyond every venue's window (OKX 30 s, Binance's recvWindow)."""


@dataclass(frozen=True)
class Venue:
    exchange: str
    name: str
    state: Callable[[], dict[str, Any]]
    fields: dict[str, str]
    code: str  # the venue's code for a refused timestamp


VENUES = {
    "okx": Venue(
        "okx", "OKX", base_state,
        {"apiKey": READ_KEY["apiKey"], "secret": READ_KEY["secret"],
         "password": READ_KEY["passphrase"]},
        "50102",
    ),
    "binance": Venue("binance", "Binance", binance_state, dict(BN_READ), "-1021"),
}  # fmt: skip


@pytest.fixture(params=list(VENUES))
def venue(request: pytest.FixtureRequest) -> Iterator[tuple[Venue, str]]:
    spec = VENUES[request.param]
    with SandboxThread(parse_state(spec.state()), rate_limit=False) as server:
        yield spec, server.url


def linked(home: Path, venue: Venue, url: str) -> App:
    settings = Settings(home=home, retries=1)
    return linked_app(settings, PASSWORD, venue.exchange, url, venue.fields)


def set_clock(url: str, seconds: int) -> None:
    assert control(url, "/__sandbox__/clock", {"offset_seconds": seconds})["ok"] is True


@pytest.mark.fault(
    "clock_skew",
    sees="Error: OKX refused the request timestamp for account 'alice' (code 50102): this "
    "machine's clock is 120.0 s behind OKX. Hint: Synchronise this machine's clock …; the last "
    "good balances kept, stale",
)
@pytest.mark.parametrize(
    ("skew", "direction"), [(SKEW, "behind"), (-SKEW, "ahead of")], ids=["behind", "ahead"]
)
async def test_a_skewed_clock_fails_the_sync_with_the_offset_and_keeps_the_last_good_data(
    tmp_path: Path, venue: tuple[Venue, str], skew: int, direction: str
) -> None:
    spec, url = venue
    app = linked(tmp_path / "home", spec, url)
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    good = stored(app)
    assert good and not any(is_stale for _, is_stale in good.values())
    total, before = portfolio_view(app).total_value, snapshot_amounts(app)

    set_clock(url, skew)  # the exchange's clock moves: this machine's is now off by `skew`
    control(url, "/__sandbox__/reset-log", {})
    report = await sync_accounts(app, history=False)

    (outcome,) = report.outcomes
    assert outcome.status == "failed"
    error = outcome.error
    assert isinstance(error, ClockSkewError) and error.exchange_code == spec.code, error
    found = re.search(
        rf"^{spec.name} refused the request timestamp for account 'alice' \(code {spec.code}\): "
        rf"this machine's clock is (\d+\.\d) s {direction} {spec.name}\.$",
        error.message,
    )
    assert found, error.message
    # measured mid round trip: off by at most half a loopback round trip
    assert abs(float(found[1]) - SKEW) < 5, error.message
    assert error.hint.startswith("Synchronise this machine's clock"), error.hint
    assert "PLANTED" not in f"{error.message} {error.hint}"
    log = control(url, "/__sandbox__/requests")
    assert {entry["code"] for entry in log if entry["key"]} == {spec.code}  # refused, as expected
    # the last good balances, every one stale; the error stored for `show` and the dashboard
    after = stored(app)
    assert {k: amount for k, (amount, _) in after.items()} == {k: a for k, (a, _) in good.items()}
    assert all(is_stale for _, is_stale in after.values())
    with app.db().session(read_only=True) as store:
        states = store.source_states(account="alice")
    assert states and all((s.error, s.hint) == (error.message, error.hint) for s in states)
    view = portfolio_view(app)
    assert view.total_value == total and view.is_partial
    assert all(h.amount > 0 for h in view.holdings)
    amounts = snapshot_amounts(app)  # no zero written, nothing new written
    assert Decimal(0) not in amounts and amounts == before

    set_clock(url, 0)  # the clocks in step again
    report = await sync_accounts(app, history=False)
    assert [o.status for o in report.outcomes] == ["ok"]
    assert stored(app) == good
    app.close()
