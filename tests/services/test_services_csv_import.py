"""`import_csv` with the exchanges' own exports, against real sandboxes and real API imports.

The OKX files are what OKX's archives contain (the sandbox's own rows, so the ids are the ones
the API serves); the Binance file is its trade history export, whose rows carry no id.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from binance_support import BN_READ, T0, binance_state
from services_support import linked_app, okx_fields

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.errors import UsageError
from keyfolio.services.context import App
from keyfolio.services.csv_import import import_csv
from keyfolio.services.imports import import_history
from keyfolio.services.sync import sync_accounts

PASSWORD = "pw-csv-import-7d"
KEY = {"apiKey": "csv-key-1", "secret": "csv-secret-PLANTED-2", "passphrase": "csv-pass-3"}
DAY = 86_400_000
NOW = time.time_ns() // 1_000_000


def okx_state() -> dict[str, Any]:
    stamps = [NOW - 5 * DAY + i * 60_000 for i in range(3)] + [NOW - 150 * DAY, NOW - 140 * DAY]
    fills = [
        {"instId": "BTC-USDT", "side": "buy" if i % 2 == 0 else "sell", "fillPx": f"{50000 + i}",
         "fillSz": "0.1", "fee": "-0.0001" if i % 2 == 0 else "-5", "ts": str(ts)}
        for i, ts in enumerate(stamps)
    ]  # fmt: skip
    return {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {"alice": {"trading": {"BTC": "0.1", "USDT": "1000"}, "fills": fills}},
    }


@pytest.fixture(scope="module")
def okx_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(okx_state()), rate_limit=False) as server:
        yield server.url


def okx_app(home: Path, url: str) -> App:
    return linked_app(Settings(home=home, retries=1), PASSWORD, "okx", url, okx_fields(KEY))


def okx_files(tmp_path: Path) -> tuple[Path, Path]:
    """OKX's fills CSV and its bills zip, with every fill of the account (ids as served)."""
    from keyfolio.sandbox.venues.okx.archive import BILL_COLUMNS
    from keyfolio.sandbox.venues.okx.book import Book
    from keyfolio.sandbox.venues.okx.history import bill_rows, fill_row
    from keyfolio.sandbox.venues.okx.protocol import fmt
    from keyfolio.sandbox.venues.okx.state import parse_state

    account = Book(parse_state(okx_state())).accounts["alice"]
    fills = [fill_row(f) for f in account.fills]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fills[0]))
    writer.writeheader()
    writer.writerows(fills)
    fills_path = tmp_path / "fills.csv"
    fills_path.write_text(out.getvalue())
    bills = [
        {**r, "bal": fmt(r["bal"]), "balChg": fmt(r["balChg"]), "billId": str(r["billId"])}
        for r in bill_rows(account)
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(BILL_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(bills)
    bills_path = tmp_path / "bills.zip"
    with zipfile.ZipFile(bills_path, "w") as archive:
        archive.writestr("bills-2026-Q1.csv", out.getvalue())
    return fills_path, bills_path


def counts(app: App, account: str = "alice") -> tuple[int, int]:
    with app.db().session(read_only=True) as store:
        trades = store.history.trades(accounts=[account])
        ledger = store.history.ledger(accounts=[account])
    assert len({t.trade_id for t in trades}) == len(trades)
    return len(trades), len(ledger)


async def test_okx_exports_add_only_what_the_api_cannot_reach(tmp_path: Path, okx_url: str) -> None:
    from cli_support import control

    app = okx_app(tmp_path, okx_url)
    report = await import_history(app, "alice")
    assert report.ok, report.errors
    assert counts(app) == (3, 6)  # the API's 3 months: three fills, two bills each
    fills, bills = okx_files(tmp_path)

    first = import_csv(app, fills, account="alice")
    assert (first.format, first.rows, first.new) == ("OKX fills (trade history)", 5, 2)
    assert first.summary() == "2 trades"
    second = import_csv(app, bills, account="alice")  # a zip, as OKX serves it
    assert (second.format, second.rows, second.new) == ("OKX bills (trading account)", 10, 0)
    assert second.summary() == "4 ledger entries"  # the old fills' bills; their trades known
    assert counts(app) == (5, 10)
    assert import_csv(app, fills, account="alice").summary() == "nothing new"
    assert import_csv(app, bills, account="alice").summary() == "nothing new"
    with app.db().session(read_only=True) as store:
        origins = {t.trade_id: t.origin for t in store.history.trades(accounts=["alice"])}
    assert sorted(origins.values()) == ["exchange"] * 3 + ["export"] * 2

    control(okx_url, "/__sandbox__/okx/archives", {"ready": True})
    again = await import_history(app, "alice")  # the archives bring the same records
    assert again.ok and again.total_new == 0
    assert counts(app) == (5, 10)
    app.close()


def test_a_bad_export_row_imports_nothing(tmp_path: Path, okx_url: str) -> None:
    app = okx_app(tmp_path, okx_url)
    fills, _ = okx_files(tmp_path)
    lines = fills.read_text().splitlines()
    lines[2] = lines[2].replace(",buy,", ",hold,").replace(",sell,", ",hold,")
    lines[4] = lines[4].replace(",0.1,", ",abc,", 1)
    lines.append(lines[1] + ",extra")
    fills.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError) as caught:
        import_csv(app, fills, account="alice")
    message = caught.value.message
    assert message.startswith("3 bad row(s) in the OKX fills (trade history) file:")
    assert "line 3: unknown side 'hold'" in message
    assert "line 5:" in message and "fillSz" in message
    assert "line 7: more fields (26) than columns (25)" in message
    assert "Nothing was imported" in caught.value.hint
    assert counts(app) == (0, 0)
    app.close()


def test_an_export_goes_to_its_exchange_or_a_manual_account(tmp_path: Path, okx_url: str) -> None:
    app = okx_app(tmp_path, okx_url)
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="binance", name="bn"))
        store.add_account(spec=AccountSpec(exchange="manual", name="old-okx"))
    fills, _ = okx_files(tmp_path)
    with pytest.raises(UsageError) as caught:
        import_csv(app, fills, account="bn")
    assert "'OKX fills (trade history)', and account 'bn' is an account of Binance" in str(
        caught.value.message
    )
    assert import_csv(app, fills, account="old-okx").new == 5
    app.close()


# -- Binance -------------------------------------------------------------------------------

_BN_EXPORT = """\ufeffDate(UTC),Pair,Side,Price,Executed,Amount,Fee
{d0},BTCUSDT,BUY,40000,0.50000000BTC,"20,000.00000000USDT",0.00050000BTC
{d1},BTCUSDT,BUY,40000,0.50000000BTC,20000USDT,0.0005BTC
{d2},BTCUSDT,BUY,40000,0.5BTC,20000USDT,0.0005BTC
{d10},ETHUSDT,SELL,2000,1.00000000ETH,2000.00000000USDT,2.00000000USDT
"""


def _bn_export(tmp_path: Path) -> Path:
    def day(n: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime((T0 + n * DAY) / 1000))

    path = tmp_path / "binance-trades.csv"
    path.write_text(_BN_EXPORT.format(d0=day(0), d1=day(1), d2=day(2), d10=day(10)))
    return path


@pytest.fixture
def binance_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues import parse_state

    with SandboxThread(parse_state(binance_state()), rate_limit=False) as server:
        yield server.url


def bn_app(home: Path, url: str) -> App:
    settings = Settings(home=home, retries=1)
    return linked_app(settings, PASSWORD, "binance", url, dict(BN_READ), names=["bn"])


async def test_binance_export_is_matched_to_api_trades_by_content(
    tmp_path: Path, binance_url: str
) -> None:
    app = bn_app(tmp_path, binance_url)
    await sync_accounts(app)  # BTC and USDT are held: the BTCUSDT trades come from the API
    assert counts(app, "bn")[0] == 3
    report = import_csv(app, _bn_export(tmp_path), account="bn")
    assert (report.format, report.rows, report.matched, report.new) == (
        "Binance spot trade history", 4, 3, 1,
    )  # fmt: skip
    assert counts(app, "bn")[0] == 4  # the ETH round trip the API walk could not find
    assert import_csv(app, _bn_export(tmp_path), account="bn").new == 0
    await sync_accounts(app)  # now ETH is known: the API brings the same sell, which replaces it
    with app.db().session(read_only=True) as store:
        trades = store.history.trades(accounts=["bn"])
    assert len(trades) == 4 and {t.origin for t in trades} == {"exchange"}
    app.close()


async def test_a_binance_export_imported_first_is_replaced_by_the_api(
    tmp_path: Path, binance_url: str
) -> None:
    app = bn_app(tmp_path, binance_url)
    assert import_csv(app, _bn_export(tmp_path), account="bn").new == 4
    await sync_accounts(app)
    await sync_accounts(app)
    with app.db().session(read_only=True) as store:
        trades = store.history.trades(accounts=["bn"])
    assert len(trades) == 4 and {t.origin for t in trades} == {"exchange"}
    app.close()


def test_the_older_binance_layout_is_read(tmp_path: Path) -> None:
    from keyfolio.domain.assets import AssetMap
    from keyfolio.exchanges.binance_exports import TRADE_HISTORY_OLD
    from keyfolio.exchanges.exports import read_table

    text = (
        "Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin\n"
        "2021-03-04 05:06:07,ETHBTC,SELL,0.03,2,0.06,0.00006,BTC\n"
        "2021-03-04 05:06:08,1INCHUSDT,BUY,3.5,10,35,0.01,1INCH\n"
        "2021-03-04 05:06:09,XYZQQQ,BUY,1,1,1,0,\n"
    )
    header, rows, _ = read_table(text)
    assert TRADE_HISTORY_OLD.matches(header)
    records, problems = TRADE_HISTORY_OLD.parse("bn", rows, AssetMap("binance"))
    assert [(r.base, r.quote, str(r.amount), r.fee_asset) for r in records] == [  # type: ignore[union-attr]
        ("ETH", "BTC", "2", "BTC"),
        ("1INCH", "USDT", "10", "1INCH"),
    ]
    assert problems == ["line 4: market 'XYZQQQ' does not end in a quote asset keyfolio knows"]
