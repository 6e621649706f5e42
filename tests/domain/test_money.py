from decimal import Decimal

import pytest

from keyfolio.domain.money import ZERO, format_amount, format_usd, parse_decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", Decimal("0.5")),
        ("1000", Decimal(1000)),
        ("", ZERO),
        ("  2.50 ", Decimal("2.50")),
        ("0.000000012345678901", Decimal("0.000000012345678901")),
        ("-0.0005", Decimal("-0.0005")),
        ("1e-8", Decimal("0.00000001")),
    ],
)
def test_parse_decimal(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("bad", ["abc", "1,5", "NaN", "Infinity"])
def test_parse_decimal_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_decimal(bad)


def test_parse_decimal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        parse_decimal(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.50000"), "0.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.00000001"), "0.00000001"),
        (ZERO, "0"),
        (Decimal("123456789012345678.5"), "123456789012345678.5"),
    ],
)
def test_format_amount(value: Decimal, text: str) -> None:
    assert format_amount(value) == text


def test_format_usd() -> None:
    assert format_usd(Decimal("30000")) == "30,000.00"
    assert format_usd(Decimal("0.005")) == "0.01" or format_usd(Decimal("0.005")) == "0.00"
