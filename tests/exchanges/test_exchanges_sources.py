"""Per-source results of errors, fatal errors, and reading ccxt's totals (pure: no exchange)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    PermissionDeniedError,
    WrongPassphraseError,
)
from keyfolio.exchanges.sources import is_fatal, parse_totals, result_for_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PermissionDeniedError("no", exchange_code="50120"), SourceStatus.NOT_PERMITTED),
        (ExchangeUnsupportedError("no", exchange_code="404"), SourceStatus.UNSUPPORTED),
        (ExchangeUnavailableError("down"), SourceStatus.FAILED),
        (ExchangeResponseError("garbled"), SourceStatus.FAILED),
    ],
)
def test_source_status_of_each_error(error: ExchangeError, status: SourceStatus) -> None:
    result = result_for_error(Source.SAVINGS, error)
    assert result.status is status
    assert result.error == error.message and result.hint == error.hint
    assert result.error_code == error.code
    assert not is_fatal(error)


def test_auth_errors_other_than_permission_are_fatal() -> None:
    assert is_fatal(WrongPassphraseError("x"))
    assert is_fatal(ExchangeAuthError("x"))
    assert not is_fatal(PermissionDeniedError("x"))


@pytest.mark.parametrize(
    ("totals", "named"),
    [
        ({"BTC": 1.5}, "BTC float 1.5"),  # a float ccxt computed: never money
        ({"BTC": "0.5", "ETH": None}, "ETH NoneType None"),  # no total given: not zero
        ({"BTC": "abc"}, "BTC 'abc'"),
        ({"BTC": "NaN"}, "BTC 'NaN'"),
        ({"": "1"}, "asset ''"),
        ({f"A{n}": None for n in range(5)}, "A2 NoneType None and 2 more"),
    ],
)
def test_parse_totals_reports_what_it_cannot_read(totals: dict[str, object], named: str) -> None:
    with pytest.raises(ExchangeResponseError) as caught:
        parse_totals(totals, name="Kraken", account="main")
    assert "Kraken sent a balance keyfolio cannot read for account 'main'" in caught.value.message
    assert named in caught.value.message


def test_parse_totals_reads_decimal_strings_and_drops_only_zeros() -> None:
    totals = {"BTC": "0.50000000", "USDT": "1000.123456789", "DOGE": "0", "ETH": ""}
    assert parse_totals(totals, name="Kraken", account="main") == {
        "BTC": Decimal("0.5"),
        "USDT": Decimal("1000.123456789"),
    }


def test_parse_totals_names_the_bounds_for_a_number_out_of_them() -> None:
    with pytest.raises(ExchangeResponseError) as caught:
        parse_totals({"BTC": "1e30"}, name="Kraken", account="main")
    assert "BTC '1e30'" in caught.value.message
    assert "10^18" in caught.value.hint and "last good balances" in caught.value.hint
