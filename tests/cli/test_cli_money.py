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
