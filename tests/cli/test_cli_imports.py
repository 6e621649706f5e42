"""`keyfolio import csv`, `trade add|list` and `holding add|list|remove`, end to end."""

from __future__ import annotations

from pathlib import Path

from cli_support import Runner

GOOD_CSV = """time,pair,side,amount,price,fee,fee_asset
2024-01-02T10:00:00Z,BTC-USDT,buy,0.1,40000,4,USDT
2024-01-03T10:00:00+01:00,ETH/USDT,buy,2,2200.5,0.002,ETH
2024-02-01T00:00:00Z,BTC-USDT,sell,0.05,45000,,
1704067200000,BTC-USDT,buy,0.1,40000,4,USDT
"""

BAD_CSV = """time,pair,side,amount,price,fee,fee_asset
2024-01-02T10:00:00Z,BTC-USDT,buy,0.1,40000,4,USDT
2024-01-03 10:00:00,BTC-USDT,buy,0.1,40000,,
2024-01-04T10:00:00Z,BTC-USDT,hold,0.1,40000,,
2024-01-05T10:00:00Z,BTCUSDT,buy,abc,40000,,
2024-01-06T10:00:00Z,BTC-USDT,sell,0.1,-5,,
"""


def test_csv_import_reports_every_bad_row_then_imports_once(linked: Runner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    result = linked("import", "csv", str(bad), "--account", "alice")
    assert result.returncode == 2
    assert "4 bad row(s)" in result.stderr
    for fragment in ("line 3: time", "line 4: side", "line 5: pair", "line 6: price"):
        assert fragment in result.stderr
    assert "line 2" not in result.stderr and "Hint:" in result.stderr
    assert linked("trade", "list", "--json").json() == []  # nothing imported

    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV)
    first = linked("import", "csv", str(good), "--account", "alice")
    assert first.returncode == 0, first.stderr
    assert "Imported 4 new trade(s)" in first.stdout
    again = linked("import", "csv", str(good), "--account", "alice")
    assert "Imported 0 new trade(s)" in again.stdout and "4 already stored" in again.stdout
    trades = linked("trade", "list", "--account", "alice", "--json").json()
    assert [(t["pair"], t["side"], t["amount"], t["price"]) for t in trades] == [
        ("BTC-USDT", "buy", "0.1", "40000"),
        ("BTC-USDT", "buy", "0.1", "40000"),
        ("ETH-USDT", "buy", "2", "2200.5"),
        ("BTC-USDT", "sell", "0.05", "45000"),
    ]
    assert trades[0]["at"] == "2024-01-01T00:00:00Z"  # Unix ms
    assert trades[2]["at"] == "2024-01-03T09:00:00Z" and trades[2]["fee_asset"] == "ETH"
    assert trades[3]["fee"] == "0" and trades[3]["fee_asset"] is None
    assert {t["origin"] for t in trades} == {"csv"}

    missing = linked("import", "csv", str(good), "--account", "nobody")
    assert missing.returncode != 0 and "nobody" in missing.stderr


def test_csv_short_rows_and_an_empty_file_say_so(linked: Runner, tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text("time,pair,side,amount,price\n2025-01-01T00:00:00Z,BTC-USDT,buy,0.1\n")
    result = linked("import", "csv", str(short), "--account", "alice")
    assert result.returncode == 2 and "line 2: missing field(s): price" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = linked("import", "csv", str(empty), "--account", "alice")
    assert result.returncode == 2 and "Error: the CSV file is empty" in result.stderr
    assert "Hint: Start it with the header line" in result.stderr


def test_trade_add_and_list(kf: Runner) -> None:
    args = ("trade", "add", "--account", "ledger", "--pair", "btc-usdt", "--side", "buy")
    added = kf(*args, "--amount", "0.1", "--price", "60000", "--fee", "1", "--at",
               "2025-01-02T10:00:00Z")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Created manual account 'ledger'" in added.stdout
    assert "buy 0.1 BTC at 60000 USDT" in added.stdout
    twice = kf(*args, "--amount", "0.1", "--price", "60000", "--fee", "1", "--at",
               "2025-01-02T10:00:00Z")  # fmt: skip
    assert twice.returncode == 1 and "recorded already" in twice.stderr and "--id" in twice.stderr
    bad = kf("trade", "add", "--account", "ledger", "--pair", "BTC-USDT", "--side", "hold",
             "--amount", "1", "--price", "1")  # fmt: skip
    assert bad.returncode == 2 and "Error:" in bad.stderr and "buy or sell" in bad.stderr
    listed = kf("trade", "list", "--json").json()
    assert len(listed) == 1
    assert listed[0] | {"id": "-"} == {
        "account": "ledger",
        "id": "-",
        "at": "2025-01-02T10:00:00Z",
        "pair": "BTC-USDT",
        "side": "buy",
        "amount": "0.1",
        "price": "60000",
        "fee": "1",
        "fee_asset": "USDT",
        "origin": "manual",
    }
    table = kf("trade", "list")
    assert "BTC-USDT" in table.stdout and "ledger" in table.stdout


def test_holdings_by_hand_are_shown(linked: Runner) -> None:
    first = linked("holding", "add", "BTC", "0.5")
    assert first.returncode == 0, first.stderr
    assert "Created manual account 'manual'" in first.stdout
    assert "now holds 0.75 BTC" in linked("holding", "add", "btc", "0.25").stdout
    linked("holding", "add", "DOT", "10", "--account", "cold", "--portfolio", "main")
    assert linked("holding", "list", "--json").json() == {
        "cold": {"DOT": "10"},
        "manual": {"BTC": "0.75"},
    }
    show = linked("show", "--json")
    assert show.returncode == 0, show.stderr
    assert "manual" in show.stdout and "DOT" in show.stdout
    assert "now holds 0.5 BTC" in linked("holding", "remove", "BTC", "0.25").stdout
    too_much = linked("holding", "remove", "BTC", "9")
    assert too_much.returncode == 2 and "holds only 0.5" in too_much.stderr
    assert linked("holding", "remove", "DOT", "--account", "cold").returncode == 0
    assert linked("holding", "list", "--json").json() == {"cold": {}, "manual": {"BTC": "0.5"}}
    refused = linked("holding", "add", "BTC", "1", "--account", "alice")
    assert refused.returncode == 1 and "linked okx account" in refused.stderr
    assert "Hint:" in refused.stderr


# -- the exchanges' own exports --------------------------------------------------------------

OKX_FILLS = """instType,instId,tradeId,ordId,billId,side,fillPx,fillSz,fee,feeCcy,ts
SPOT,BTC-USDT,901,81,7001,buy,40000,0.1,-0.0001,BTC,1704189600000
SPOT,BTC-USDT,902,82,7003,sell,45000,0.05,-2.25,USDT,1706745600000
SPOT,ETH-USDT,903,83,7005,buy,2200.5,2,-0.002,ETH,1704272400000
"""
OKX_BILLS = """billId,type,subType,ts,ccy,balChg,bal,sz,px,fee,instType,instId,tradeId,ordId
8002,2,1,1704355200000,USDT,-6000,4000,0.1,60000,0,SPOT,BTC-USDT,904,84
8001,2,1,1704355200000,BTC,0.0999,0.0999,0.1,60000,-0.0001,SPOT,BTC-USDT,904,84
"""


def _zip(path: Path, text: str) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bills-2024Q1.csv", text)
    return path


def _trade_ids(run: Runner) -> list[str]:
    return sorted(t["id"] for t in run("trade", "list", "--account", "alice", "--json").json())


def test_okx_exports_are_recognised_and_imported_once(linked: Runner, tmp_path: Path) -> None:
    fills = tmp_path / "fills.csv"
    fills.write_text(OKX_FILLS)
    first = linked("import", "csv", str(fills), "--account", "alice")
    assert first.returncode == 0, first.stderr
    assert "Recognised OKX fills (trade history): 3 row(s) read." in first.stdout
    assert "Imported 3 trades into 'alice'" in first.stdout
    again = linked("import", "csv", str(fills), "--account", "alice")
    assert "Imported nothing new into 'alice'" in again.stdout
    assert _trade_ids(linked) == ["BTC-USDT:901", "BTC-USDT:902", "ETH-USDT:903"]

    bills = _zip(tmp_path / "bills.zip", OKX_BILLS)  # zipped, as OKX's archive serves it
    result = linked("import", "csv", str(bills), "--account", "alice")
    assert result.returncode == 0, result.stderr
    assert "Recognised OKX bills (trading account): 2 row(s) read." in result.stdout
    assert "1 trade, 2 ledger entries" in result.stdout  # the buy the two bills make
    trades = linked("trade", "list", "--account", "alice", "--json").json()
    made = next(t for t in trades if t["id"] == "BTC-USDT:904")
    assert (made["side"], made["amount"], made["price"], made["fee"], made["fee_asset"]) == (
        "buy", "0.1", "60000", "0.0001", "BTC",
    )  # fmt: skip
    assert {t["origin"] for t in trades} == {"export"}


def test_a_cut_or_damaged_export_is_an_error_and_imports_nothing(
    linked: Runner, tmp_path: Path
) -> None:
    whole = _zip(tmp_path / "whole.zip", OKX_BILLS).read_bytes()
    cut_zip = tmp_path / "cut.zip"
    cut_zip.write_bytes(whole[: len(whole) // 2])  # a download that stopped half way
    result = linked("import", "csv", str(cut_zip), "--account", "alice")
    assert result.returncode == 2
    assert "Error: cannot read" in result.stderr and "damaged or cut short" in result.stderr
    assert "Hint: Nothing was imported" in result.stderr and "Traceback" not in result.stderr

    cut_csv = tmp_path / "cut.csv"  # the last row stops after its balance change
    cut_csv.write_text(OKX_BILLS + "8003,2,2,1704441600000,BTC,-0.05\n")
    result = linked("import", "csv", str(cut_csv), "--account", "alice")
    assert result.returncode == 2
    assert "Error: 1 bad row(s) in the OKX bills (trading account) file:" in result.stderr
    assert "line 4: fewer fields (6) than columns (14); is the file cut short?" in result.stderr
    assert "Hint: Nothing was imported." in result.stderr

    bad = tmp_path / "bad-fills.csv"
    bad.write_text(OKX_FILLS.replace("40000,0.1", "40000,lots").replace(",sell,", ",short,"))
    result = linked("import", "csv", str(bad), "--account", "alice")
    assert result.returncode == 2 and "2 bad row(s)" in result.stderr
    assert "line 2:" in result.stderr and "line 3: unknown side 'short'" in result.stderr

    header_only = tmp_path / "header.csv"
    header_only.write_text(OKX_FILLS.splitlines()[0] + "\n")
    result = linked("import", "csv", str(header_only), "--account", "alice")
    assert result.returncode == 2 and "has a header but no rows" in result.stderr
    assert "Hint: Export a period" in result.stderr
    assert _trade_ids(linked) == []  # none of the bills' or fills' trades


def test_an_export_of_another_exchange_is_refused(linked: Runner, tmp_path: Path) -> None:
    binance = tmp_path / "binance.csv"
    binance.write_text(
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        "2024-01-02 10:00:00,BTCUSDT,BUY,40000,0.1BTC,4000USDT,0.0001BTC\n"
    )
    result = linked("import", "csv", str(binance), "--account", "alice")
    assert result.returncode == 2
    assert (
        "Error: this file is the export 'Binance spot trade history', and account 'alice' is "
        "an account of OKX, not of Binance" in result.stderr
    )
    assert "Hint: Import it into the Binance account" in result.stderr
    assert _trade_ids(linked) == []
