"""The exports hook: reading downloaded files, the table reader, and how a file is recognised."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import LedgerEntry, Trade
from keyfolio.exchanges.exports import ExportFormat, decode_file, export_formats, read_table
from keyfolio.exchanges.okx_exports import BILLS, FILLS
from keyfolio.exchanges.venues import first_class

TEXT = "billId,ccy,balChg,ts\n1,BTC,0.1,1704067200000\n"


def _half_a_zip(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bills.csv", text * 50)
    return out.getvalue()[: len(out.getvalue()) // 2]


def _half_a_gzip(text: str) -> bytes:
    whole = gzip.compress((text * 50).encode())
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_half_a_zip(TEXT), "the zip file is damaged or cut short"),
        (_half_a_gzip(TEXT), "the gzip file is damaged or cut short"),
        (b"\x1f\x8b" + b"\x08\x00" + b"\xff" * 40, "the gzip file is damaged or cut short"),
        (b"PK\x03\x04" + b"\x00" * 40, "the zip file is damaged or cut short"),
        ("time,pair\n\u00e9".encode("latin-1"), "not UTF-8"),
    ],
    ids=["zip-cut", "gzip-cut", "gzip-garbage", "zip-garbage", "latin-1"],
)
def test_a_damaged_file_is_a_value_error_naming_it(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        decode_file(data, name="bills.zip")
    assert str(caught.value).startswith("bills.zip: ")


def test_rows_with_more_or_fewer_fields_are_problems_by_line() -> None:
    header, rows, problems = read_table(
        "BillId, CCY ,balChg,ts\n1,BTC,0.1,1\n\n2,BTC,0.2,2,extra\n3,BTC\n4,ETH,1,4\n"
    )
    assert header == ["billid", "ccy", "balchg", "ts"]
    assert [line for line, _ in rows] == [2, 6]  # the blank line 3 is skipped
    assert rows[1][1] == {"billid": "4", "ccy": "ETH", "balchg": "1", "ts": "4"}
    assert problems == [
        "line 4: more fields (5) than columns (4)",
        "line 5: fewer fields (2) than columns (4); is the file cut short?",
    ]


def test_a_field_over_the_csv_limit_is_a_problem_not_a_crash() -> None:
    _, rows, problems = read_table("billId,ccy\n1,BTC\n2," + "x" * 200_000 + "\n")
    assert len(rows) == 1 and len(problems) == 1
    assert problems[0].startswith("line 3: field larger than field limit")


def test_every_first_class_venue_names_its_formats_once() -> None:
    formats = export_formats()
    assert (
        {fmt.venue for fmt in formats}
        == {info.id for info in first_class() if info.exports is not None}
        >= {"okx", "binance"}
    )
    assert len({fmt.name for fmt in formats}) == len(formats)
    assert all(isinstance(fmt, ExportFormat) and fmt.required for fmt in formats)
    # no format's columns contain another's, so a file is never read by the wrong one
    for a in formats:
        assert not [b.name for b in formats if b is not a and b.required <= a.required]


def test_bills_that_do_not_agree_make_no_trade_but_stay_ledger_entries() -> None:
    text = (
        "billId,type,subType,ts,ccy,balChg,sz,px,fee,instType,instId,tradeId\n"
        "2,2,1,1704355200000,USDT,-6000,0.1,60000,0,SPOT,BTC-USDT,904\n"
        "1,2,1,1704355200000,BTC,0.0999,0.1,60000,-0.0001,SPOT,BTC-USDT,904\n"
        "4,2,2,1704441600000,USDT,2999,0.05,60000,0,SPOT,BTC-USDT,905\n"  # 3000 would agree
        "3,2,2,1704441600000,BTC,-0.05,0.05,60000,0,SPOT,BTC-USDT,905\n"
    )
    header, rows, _ = read_table(text)
    assert BILLS.matches(header) and not FILLS.matches(header)
    records, problems = BILLS.parse("alice", rows, AssetMap("okx"))
    assert problems == []
    assert len([r for r in records if isinstance(r, LedgerEntry)]) == 4
    trades = [r for r in records if isinstance(r, Trade)]
    assert [t.trade_id for t in trades] == ["BTC-USDT:904"]  # 905's quote leg is off by one
