"""The OKX archive streams against the sandbox: apply within the budget, poll, download, ids.

One sandbox for the module, one account (key) per test, so tests stay independent. Time is a
fake clock (real time plus an offset): no test waits; archives are made ready by the sandbox's
control API or by its deterministic number of polls.
"""

from __future__ import annotations

import gzip
import io
import time
import urllib.request
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from exchanges_support import control, requests_log

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.history import LedgerEntry, Trade, TradeSide
from keyfolio.errors import ExchangeResponseError, PermissionDeniedError
from keyfolio.exchanges.exports import decode_file
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.okx_archive import (
    APPLY_BUDGET,
    ARCHIVES,
    DAY_S,
    Archive,
    ArchiveState,
    ArchiveStream,
    _followable,
)
from keyfolio.exchanges.pool import ConnectorPool

DAY = 86_400_000
NOW = time.time_ns() // 1_000_000
BILLS, FILLS = ARCHIVES
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


def quarter_start(back: int) -> int:
    moment = datetime.fromtimestamp(NOW / 1000, tz=UTC)
    index = moment.year * 4 + (moment.month - 1) // 3 - back
    return int(datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC).timestamp() * 1000)


def _fills() -> list[dict[str, str]]:
    """A buy and a sell in each of the last 4 complete quarters."""
    fills = []
    for back in range(1, 5):
        start = quarter_start(back)
        fills.append({"instId": "BTC-USDT", "side": "buy", "fillPx": f"{40000 + back}.5",
                      "fillSz": "0.25", "fee": "-0.00025", "feeCcy": "BTC",
                      "ts": str(start + 5 * DAY)})  # fmt: skip
        fills.append({"instId": "BTC-USDT", "side": "sell", "fillPx": "50000", "fillSz": "0.1",
                      "fee": "0.5", "feeCcy": "USDT", "ts": str(start + 20 * DAY)})  # fmt: skip
    return fills


def _key(name: str) -> dict[str, str]:
    return {"apiKey": f"{name}-key", "secret": f"{name}-secret-PLANTED", "passphrase": f"{name}-pp"}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state = {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**_key(n), "perm": "read_only", "account": n} for n in NAMES],
        "accounts": {
            n: {"trading": {"BTC": "1", "USDT": "1000"}, "fills": _fills()} for n in NAMES
        },
    }
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url


@pytest.fixture
async def pool(tmp_path: Any) -> AsyncIterator[ConnectorPool]:
    settings = Settings(home=tmp_path / "home", retries=1, request_timeout_seconds=5.0)
    async with ConnectorPool(settings, retry_base_delay=0.01) as shared:
        yield shared


def connector(pool: ConnectorPool, url: str, name: str) -> OkxConnector:
    key = _key(name)
    made = pool.connector(
        AccountSpec(exchange="okx", name=name, api_url=url),
        Credentials(
            fields={"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}
        ),
    )
    assert isinstance(made, OkxConnector)
    return made


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def run(stream: ArchiveStream, cursor: str | None) -> tuple[list[Any], str | None, Any]:
    """One import run of the stream, as services.imports does it: pages until done."""
    stream._visited.clear()
    stream._applied_now.clear()
    records: list[Any] = []
    while True:
        page = await stream.next_page(cursor)
        records += page.records
        cursor = page.cursor
        if page.error is not None or page.done:
            return records, cursor, page.error


def posts(log: list[dict[str, Any]], key: str, archive: Archive) -> int:
    return sum(
        1 for e in log if e["method"] == "POST" and e["key"] == key and archive.path in e["path"]
    )


# -- the walk ------------------------------------------------------------------------------


async def test_first_run_applies_within_budget_then_imports_with_the_api_ids(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "alice")
    clock = Clock()
    bills, fills = ArchiveStream(okx, BILLS, clock=clock), ArchiveStream(okx, FILLS, clock=clock)
    assert len(bills.quarters()) >= 23 and len(fills.quarters()) == 8
    assert bills.quarters()[0] > bills.quarters()[1]  # newest first
    got, bills_cursor, _ = await run(bills, None)
    more, fills_cursor, _ = await run(fills, None)
    assert got == more == []  # applied only: OKX prepares the files
    log = await requests_log(url)
    assert posts(log, "alice-key", BILLS) == APPLY_BUDGET["bills"] == 10
    assert posts(log, "alice-key", FILLS) == 8
    assert bills.progress(bills_cursor) == (
        f"OKX bills archive: 0 of {len(bills.quarters())} quarters imported, 10 being prepared "
        f"by OKX, {len(bills.quarters()) - 10} wait for the daily application limit (10)"
    )

    await control(url, "okx/archives", {"ready": True})
    ledger, bills_cursor, _ = await run(bills, bills_cursor)
    trades, fills_cursor, _ = await run(fills, fills_cursor)
    entries = [r for r in ledger if isinstance(r, LedgerEntry)]
    assert len(entries) == 16 and {e.source for e in entries} == {"trading"}
    assert all(e.entry_id.isdigit() for e in entries)  # OKX's billId: the API stream's id
    assert len(trades) == 8 and all(isinstance(t, Trade) for t in trades)
    buy = next(t for t in trades if t.side is TradeSide.BUY and t.price == Decimal("40001.5"))
    assert (buy.amount, buy.fee, buy.fee_asset) == (Decimal("0.25"), Decimal("0.00025"), "BTC")
    assert buy.trade_id.startswith("BTC-USDT:")  # instId:tradeId, as fills-history gives it
    derived = {t.trade_id: t for t in ledger if isinstance(t, Trade)}
    assert derived == {t.trade_id: t for t in trades}  # the bills make the very same trades
    assert fills.progress(fills_cursor) is None  # all 8 quarters in
    state = ArchiveState.load(bills_cursor)
    assert len(state.imported) == 10 and not state.applied

    before = len(await requests_log(url))
    assert bills.resting(bills_cursor, None)  # the day's applications are spent: rest
    assert (await run(fills, fills_cursor))[0] == []
    assert len(await requests_log(url)) == before  # nothing left to ask about fills

    clock.offset = DAY_S + 60  # a day later the budget is back
    assert not bills.resting(bills_cursor, None)
    await run(bills, bills_cursor)
    assert 0 < posts(await requests_log(url), "alice-key", BILLS) - 10 <= 10


async def test_a_quarter_is_polled_once_per_run_until_ready(url: str, pool: ConnectorPool) -> None:
    okx = connector(pool, url, "bob")
    await control(url, "okx/archives", {"polls": 2})
    try:
        stream = ArchiveStream(okx, FILLS, budget=1)
        _, cursor, _ = await run(stream, None)
        polls = []
        for _ in range(3):
            records, cursor, _ = await run(stream, cursor)
            log = await requests_log(url)
            polls.append(sum(1 for e in log if e["key"] == "bob-key" and e["method"] == "GET"))
            if records:
                break
    finally:
        await control(url, "okx/archives", {"polls": 1})
    assert polls == [1, 2, 3]  # one poll a run; the third answer has the link
    assert [r.side for r in records] == [TradeSide.SELL, TradeSide.BUY]


async def test_a_failed_job_is_applied_for_again_when_the_budget_allows(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "carol")
    clock = Clock()
    stream = ArchiveStream(okx, FILLS, clock=clock, budget=1)
    _, cursor, _ = await run(stream, None)
    await control(url, "okx/archives", {"fail": True})
    _, cursor, _ = await run(stream, cursor)  # failed, and today's budget is spent
    assert posts(await requests_log(url), "carol-key", FILLS) == 1
    clock.offset = DAY_S + 1
    _, cursor, _ = await run(stream, cursor)  # the next day: applied for again
    assert posts(await requests_log(url), "carol-key", FILLS) == 2
    await control(url, "okx/archives", {"ready": True})
    got, cursor, _ = await run(stream, cursor)
    assert len(got) == 2 and ArchiveState.load(cursor).imported == {stream.quarters()[0]}


async def test_an_expired_link_is_renewed_and_downloaded_in_the_same_run(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "grace")
    stream = ArchiveStream(okx, FILLS, budget=1)
    _, cursor, _ = await run(stream, None)
    await control(url, "okx/archives", {"ready": True, "expire": True})
    stream.budget = 2  # room for the renewal
    got, cursor, _ = await run(stream, cursor)
    log = await requests_log(url)
    files = [e["code"] for e in log if e["path"].startswith("/__files__/okx/")]
    assert files[-2:] == ["404", "0"]  # the expired link, then the renewed one
    assert posts(log, "grace-key", FILLS) == 2 and len(got) == 2


async def test_a_refusal_is_reported_once_with_its_hint_then_rests_a_day(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "dave")
    await control(url, "okx/archives", {"apply_permission": "trade"})
    try:
        clock = Clock()
        stream = ArchiveStream(okx, BILLS, clock=clock)
        _, cursor, error = await run(stream, None)
    finally:
        await control(url, "okx/archives", {"apply_permission": "read_only"})
    assert isinstance(error, PermissionDeniedError) and error.exchange_code == "50120"
    assert "read-only key may not apply" in error.message and "'dave'" in error.message
    assert "keyfolio import csv FILE --account dave" in error.hint
    assert stream.resting(cursor, None)
    assert "refused to prepare it for this key" in (stream.progress(cursor) or "")
    clock.offset = DAY_S + 1
    assert not stream.resting(cursor, None)
    _, cursor, error = await run(stream, cursor)  # allowed again: applies
    assert error is None and ArchiveState.load(cursor).refused is None


async def test_an_archive_that_is_not_offered_rests_without_an_error(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url + "/gone", "erin")  # every path there answers OKX's 404
    stream = ArchiveStream(okx, FILLS)
    _, cursor, error = await run(stream, None)
    assert error is None and stream.resting(cursor, None)
    assert "does not offer it here" in (stream.progress(cursor) or "")
    assert ArchiveState.load(cursor).applies == []  # nothing spent


async def test_quarters_okx_does_not_offer_are_skipped_for_a_day(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "frank")
    wider = Archive("fills", "archive:fills", FILLS.kind, FILLS.path, FILLS.format,
                    first=lambda current: current - 9)  # fmt: skip
    stream = ArchiveStream(okx, wider, budget=20)
    _, cursor, _ = await run(stream, None)
    state = ArchiveState.load(cursor)
    assert list(state.unavailable) == [stream.quarters()[-1]]  # the 9th quarter back: 51000
    assert len(state.applied) == 8


async def test_a_file_cut_short_imports_nothing_of_its_quarter_and_is_fetched_again_a_day_later(
    url: str, pool: ConnectorPool
) -> None:
    okx = connector(pool, url, "heidi")
    clock = Clock()
    stream = ArchiveStream(okx, BILLS, clock=clock, budget=2)
    _, cursor, _ = await run(stream, None)
    newest, older = stream.quarters()[:2]
    await control(url, "okx/archives", {"ready": True, "cut": True})
    try:
        got, cursor, error = await run(stream, cursor)  # the zip is half there
    finally:
        await control(url, "okx/archives", {"cut": False})
    assert got == [] and isinstance(error, ExchangeResponseError)
    assert f"OKX bills archive {newest}" in error.message and "cut short" in error.message
    assert "Nothing of this quarter was imported" in error.hint
    state = ArchiveState.load(cursor)
    assert list(state.damaged) == [newest] and not state.imported
    assert "1 whose file was unreadable" in (stream.progress(cursor) or "")

    got, cursor, error = await run(stream, cursor)  # the next sync: the older quarter goes on
    assert error is None and ArchiveState.load(cursor).imported == {older}
    assert {r.at.year * 4 + (r.at.month - 1) // 3 for r in got} <= {_quarter_index(older)}
    clock.offset = DAY_S + 1  # a day later the damaged quarter is downloaded again, whole now
    got, cursor, error = await run(stream, cursor)
    state = ArchiveState.load(cursor)
    assert error is None and state.imported == {newest, older} and not state.damaged
    assert len([r for r in got if isinstance(r, LedgerEntry)]) == 4  # a buy and a sell's bills


def _quarter_index(label: str) -> int:
    year, q = label.split("Q")
    return int(year) * 4 + int(q) - 1


# -- files and links -----------------------------------------------------------------------


def test_files_are_read_zipped_gzipped_or_plain() -> None:
    text = "billId,ccy\n1,BTC\n"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("bills.csv", text)
    assert decode_file(zipped.getvalue(), name="z") == text
    assert decode_file(gzip.compress(text.encode()), name="g") == text
    assert decode_file(("\ufeff" + text).encode(), name="p") == text
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", text)
        archive.writestr("b.csv", text)
    with pytest.raises(ValueError, match="holds 2 files"):
        decode_file(two.getvalue(), name="two.zip")
    with pytest.raises(ValueError, match="not UTF-8"):
        decode_file(b"\xff\xfe\x00bad", name="bad.csv")


@pytest.mark.parametrize(
    ("link", "followed"),
    [
        ("https://static.okx.com/cdn/file.zip?sig=x", True),
        ("http://127.0.0.1:8080/__files__/okx/t", True),
        ("http://localhost:8080/f", True),
        ("http://static.okx.com/file.zip", False),
        ("ftp://127.0.0.1/file.zip", False),
        ("file:///etc/passwd", False),
    ],
)
def test_only_https_links_are_followed_and_plain_http_on_loopback(
    link: str, followed: bool
) -> None:
    assert _followable(link) is followed


def test_the_sandbox_file_is_what_the_docs_describe(url: str) -> None:
    # (a sanity check of the loopback download outside ccxt: an unknown token is a 404)
    request = urllib.request.Request(url + "/__files__/okx/unknown")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    with missing.value:
        assert missing.value.code == 404
