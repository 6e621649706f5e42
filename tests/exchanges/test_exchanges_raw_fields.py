"""RawFields: a venue's raw record fields, read exactly or refused with the venue named."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.raw_fields import RawFields

BINANCE = RawFields("Binance", ints_as_text=True)
BYBIT = RawFields("Bybit", ints_as_text=True, blank_is_zero=True)
KRAKEN = RawFields("Kraken")


def test_text_reads_strings_and_only_where_allowed_integer_ids() -> None:
    assert KRAKEN.text({"id": "T1"}, "id", "trades") == "T1"
    assert BINANCE.text({"id": 28457}, "id", "trades") == "28457"
    with pytest.raises(ExchangeResponseError) as caught:
        KRAKEN.text({"id": 28457}, "id", "trades")
    assert caught.value.message == "Kraken trades: a record has no 'id' (28457)."
    with pytest.raises(ExchangeResponseError, match="Binance trades: a record has no 'id'"):
        BINANCE.text({"id": True}, "id", "trades")  # a bool is not an id


def test_decimal_is_exact_and_an_absent_amount_is_zero() -> None:
    assert KRAKEN.decimal({"fee": "0.00000001"}, "fee", "trades") == Decimal("0.00000001")
    assert KRAKEN.decimal({}, "fee", "trades") == 0
    assert BYBIT.decimal({"execFee": ""}, "execFee", "spot executions") == 0
    assert BYBIT.decimal({"execFee": None}, "execFee", "spot executions") == 0
    with pytest.raises(ExchangeResponseError) as caught:
        BINANCE.decimal({"qty": None}, "qty", "trades")  # null only reads as zero on Bybit
    assert caught.value.message == "Binance trades: qty is not a string: None."


def test_an_unreadable_amount_names_the_venue_and_the_bounds() -> None:
    with pytest.raises(ExchangeResponseError) as caught:
        KRAKEN.amount(1.5, "vol", "trades")  # a float: never money
    assert caught.value.message == "Kraken trades: vol is not a string: 1.5."
    with pytest.raises(ExchangeResponseError) as caught:
        KRAKEN.decimal({"vol": "1e30"}, "vol", "trades")
    assert caught.value.message.startswith("Kraken trades: ")
    assert "Nothing of this page was imported" in caught.value.hint
    assert "10^18" in caught.value.hint and "Kraken's own site" in caught.value.hint
