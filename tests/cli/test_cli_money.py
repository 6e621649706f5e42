"""Amounts outside the money bounds, from the command line: Error + Hint, exit 2, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Runner

TOO_LARGE = "1e30"
TOO_FINE = "0.0000000000000000001"  # 19 decimal places


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (TOO_LARGE, "is larger than 10^18"),
        ("10000000000000000000", "is larger than 10^18"),
        (TOO_FINE, "has more than 18 decimal places"),
        ("1000000000000000000.5", "is larger than 10^18"),
    ],
)
def test_holding_add_refuses_an_amount_outside_the_bounds(
    kf: Runner, amount: str, reason: str
) -> None:
    result = kf("holding", "add", "USDT", amount)
    assert result.returncode == 2, result.stderr
    assert f"Error: amount '{amount}' {reason}" in result.stderr
    assert "Hint:" in result.stderr and "at most 10^18" in result.stderr
    assert "Traceback" not in result.stderr and "bug" not in result.stderr
    assert kf("holding", "list", "--json").json() == {}  # not even the manual account
    assert "manual" not in kf("account", "list").stdout


def test_holding_add_refuses_a_total_outside_the_bounds(kf: Runner) -> None:
    assert kf("holding", "add", "SHIB", "600000000000000000").returncode == 0
    result = kf("holding", "add", "SHIB", "600000000000000000")
    assert result.returncode == 2
    assert "would then hold 1200000000000000000 SHIB, which is larger than 10^18" in result.stderr
    assert "Hint: Nothing was changed." in result.stderr
    assert kf("holding", "list", "--json").json() == {"manual": {"SHIB": "600000000000000000"}}


def test_the_largest_amount_is_kept_to_the_last_digit(kf: Runner) -> None:
    widest = "999999999999999999.999999999999999999"
    added = kf("holding", "add", "USDT", widest)
    assert added.returncode == 0, added.stderr
    assert f"now holds {widest} USDT" in added.stdout
    assert kf("holding", "list", "--json").json() == {"manual": {"USDT": widest}}
    shown = kf("show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.json()["holdings"][0]["amount"] == widest


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--amount", TOO_LARGE, "is larger than 10^18"),
        ("--price", TOO_FINE, "has more than 18 decimal places"),
        ("--fee", "-2e18", "is larger than 10^18"),
    ],
)
def test_trade_add_refuses_numbers_outside_the_bounds(
    kf: Runner, option: str, value: str, reason: str
) -> None:
    fields = {"--amount": "0.1", "--price": "60000", "--fee": "0", option: value}
    args = [item for pair in fields.items() for item in pair]
    result = kf("trade", "add", "--account", "ledger", "--pair", "BTC-USDT", "--side", "buy",
                *args)  # fmt: skip
    assert result.returncode == 2
    assert f"Error: {option[2:]} '{value}' {reason}" in result.stderr
    assert "Hint:" in result.stderr and "docs/money.md" in result.stderr
    assert kf("trade", "list", "--json").json() == []
    assert "ledger" not in kf("account", "list").stdout


def test_csv_import_names_the_line_and_column_and_imports_nothing(
    linked: Runner, tmp_path: Path
) -> None:
    csv = tmp_path / "big.csv"
    csv.write_text(
        "time,pair,side,amount,price,fee\n"
        "2024-01-02T10:00:00Z,BTC-USDT,buy,0.1,40000,1\n"
        f"2024-01-03T10:00:00Z,BTC-USDT,buy,{TOO_LARGE},40000,1\n"
        f"2024-01-04T10:00:00Z,BTC-USDT,buy,0.1,{TOO_FINE},1\n"
        "2024-01-05T10:00:00Z,BTC-USDT,sell,0.1,40000,1e19\n"
    )
    result = linked("import", "csv", str(csv), "--account", "alice")
    assert result.returncode == 2
    assert "3 bad row(s)" in result.stderr
    assert f"line 3: amount '{TOO_LARGE}' is larger than 10^18" in result.stderr
    assert f"line 4: price '{TOO_FINE}' has more than 18 decimal places" in result.stderr
    assert "line 5: fee '1e19' is larger than 10^18" in result.stderr
    assert "line 2" not in result.stderr
    assert "Hint:" in result.stderr and "docs/money.md" in result.stderr
    assert linked("trade", "list", "--json").json() == []


def test_a_stored_value_outside_the_bounds_is_left_out_and_explained(kf: Runner) -> None:
    # What `keyfolio holding add USDT 1e30` stored before the bounds, through the storage layer.
    from datetime import UTC, datetime
    from decimal import Decimal

    from keyfolio.config import Settings
    from keyfolio.domain.accounts import AccountSpec
    from keyfolio.domain.balances import Source, SourceResult, SourceStatus
    from keyfolio.domain.records import Price
    from keyfolio.services.context import App
    from keyfolio.services.snapshots import record_snapshots

    app = App(settings=Settings(home=kf.home), password=lambda **_: "unused")
    now = datetime.now(UTC)
    held = [SourceResult(Source.TRADING, SourceStatus.OK, {"USDT": Decimal(TOO_LARGE),
                                                           "BTC": Decimal("0.5")})]  # fmt: skip
    try:
        with app.db().session() as store:
            store.add_account(spec=AccountSpec(exchange="manual", name="manual"))
            store.record_sync(name="manual", results=held, synced_at=now)
            store.upsert_prices(
                prices=[Price("BTC", Decimal(60000), "t", now), Price("USDT", Decimal(1), "t", now)]
            )
        record_snapshots(app, account="manual", results=held, at=now)
    finally:
        app.close()
    hint = "Hint: Remove it with `keyfolio holding remove USDT --account manual`"
    for command in (("show",), ("history",), ("pnl",)):
        result = kf(*command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Left out:" in result.stdout and "1" + "0" * 30 in result.stdout, command
        assert hint in result.stdout.replace("\n  ", " "), command
    shown = kf("show", "--json").json()
    assert shown["total_value"] == "30000" and [h["asset"] for h in shown["holdings"]] == ["BTC"]
    assert [item["asset"] for item in shown["refused"]] == ["USDT"]
    # The way out: remove it, then add the right amount.
    assert kf("holding", "add", "ETH", "1").returncode == 2  # would write USDT 1e30 again
    assert kf("holding", "remove", "USDT").returncode == 0
    assert kf("holding", "add", "USDT", "1000").returncode == 0
    assert kf("show", "--json").json()["refused"] == []
