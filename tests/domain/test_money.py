"""The decimal policy: bounded parsing, the one exact context, explicit rounding."""

from decimal import ROUND_FLOOR, Decimal, Inexact, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.domain.money import (
    INPUT,
    MONEY,
    PRICE,
    VALUE,
    ZERO,
    AmountError,
    divide,
    format_amount,
    format_fixed,
    format_usd,
    money_context,
    multiply,
    parse_decimal,
    prorate,
    round_to,
    subtract,
    total,
)

D = Decimal
LARGEST = "999999999999999999.999999999999999999"  # 36 digits: the widest input

# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", D("0.5")),
        ("1000", D(1000)),
        ("", ZERO),
        ("  2.50 ", D("2.50")),
        ("0.000000012345678901", D("0.000000012345678901")),
        ("-0.0005", D("-0.0005")),
        ("1e-8", D("0.00000001")),
        ("1e18", D(10) ** 18),  # the bound itself is in
        ("-1e18", -(D(10) ** 18)),
        ("0.000000000000000001", D("1e-18")),  # 18 places
        (LARGEST, D(LARGEST)),
        ("0.10000000000000000000000", D("0.1")),  # trailing zeros are not places
        ("1E+3", D(1000)),
    ],
)
def test_parse_decimal_within_the_bounds(text: str, expected: Decimal) -> None:
    parsed = parse_decimal(text)
    assert parsed == expected
    assert parsed.as_tuple().exponent >= -18  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e30", "is larger than 10^18"),
        ("-1e19", "is larger than 10^18"),
        ("1000000000000000000.000000000000000001", "is larger than 10^18"),
        ("1000000000000000001", "is larger than 10^18"),
        ("0.0000000000000000001", "has more than 18 decimal places"),
        ("1e-19", "has more than 18 decimal places"),
        ("12345678901.1234567890123456789", "has more than 18 decimal places"),
        ("abc", "is not a decimal number"),
        ("1,5", "is not a decimal number"),
        ("NaN", "is not a finite number"),
        ("sNaN", "is not a finite number"),
        ("Infinity", "is not a finite number"),
        ("-Infinity", "is not a finite number"),
    ],
)
def test_parse_decimal_refuses_what_is_outside_the_bounds(text: str, reason: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_decimal(text, field="price")
    assert str(caught.value).startswith(f"price {text!r} {reason}")
    assert caught.value.field == "price" and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", [D("1e30"), D("1e-19"), 10**19])
def test_parse_decimal_bounds_decimals_and_ints_too(value: Decimal | int) -> None:
    with pytest.raises(AmountError):
        parse_decimal(value)


def test_parse_decimal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        parse_decimal(0.1)  # type: ignore[arg-type]


# -- bounds of stored values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "value", "admitted"),
    [
        (INPUT, D("1e18"), True),
        (INPUT, D("1e30"), False),
        (INPUT, D("-1.5"), True),
        (INPUT, D("1E-18"), True),
        (INPUT, D("1E-19"), False),
        (INPUT, D("0.50000000000000000000000"), True),
        (INPUT, D("NaN"), False),
        (INPUT, D("Infinity"), False),
        (PRICE, D("1e36"), True),
        (PRICE, D("1e37"), False),
        (PRICE, D("0.000000012345678901234567890123456789"), True),  # 36 places
        (PRICE, D("1e-37"), False),
        (VALUE, D("1e66"), True),
        (VALUE, D("1e67"), False),
        (VALUE, D("1e-54"), True),
        (VALUE, D("1e-55"), False),
    ],
)
def test_bounds_admit(bounds: object, value: Decimal, admitted: bool) -> None:
    assert bounds.admits(value) is admitted  # type: ignore[attr-defined]
    assert (bounds.problem(value) is None) is admitted  # type: ignore[attr-defined]


# -- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0.50000"), "0.5"),
        (D("1E+3"), "1000"),
        (D("0.00000001"), "0.00000001"),
        (ZERO, "0"),
        (D("-0.000"), "0"),
        (D("123456789012345678.5"), "123456789012345678.5"),
        # The finding: the default 28-digit context rounded this to ...12345678901234568.
        (D("12345678901.123456789012345678"), "12345678901.123456789012345678"),
        (D(LARGEST), LARGEST),
        (D("1E+30"), "1" + "0" * 30),  # a refused stored value still formats
        (D("-1.5E-40"), "-0." + "0" * 39 + "15"),
    ],
)
def test_format_amount_is_exact(value: Decimal, text: str) -> None:
    with localcontext() as ctx:
        ctx.prec = 5  # whatever the ambient context, formatting never rounds
        assert format_amount(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("30000"), "30,000.00"),
        (D("0.005"), "0.00"),  # half-even: to the even cent
        (D("0.015"), "0.02"),
        (D("0.025"), "0.02"),
        (D("2.675"), "2.68"),
        (D("-1234.565"), "-1,234.56"),
        (D("12345678901.123456789012345678"), "12,345,678,901.12"),
        (D("1e30"), "1," + ",".join(["000"] * 10) + ".00"),
    ],
)
def test_format_usd_rounds_half_even_to_cents(value: Decimal, text: str) -> None:
    assert format_usd(value) == text


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [(D("12.345"), 1, "12.3"), (D("12.35"), 1, "12.4"), (D("12.25"), 1, "12.2"), (D(5), 2, "5.00")],
)
def test_format_fixed(value: Decimal, places: int, text: str) -> None:
    assert format_fixed(value, places) == text


# -- the one context ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [
        (D(LARGEST), D(LARGEST), Fraction(LARGEST) ** 2),
        (D("1e18"), D("1e-18"), Fraction(1)),
        (D("0.000000000000000001"), D("0.000000000000000001"), Fraction(1, 10**36)),
        (D("-12345678901.123456789012345678"), D("98765.4321"), None),
    ],
)
def test_multiply_is_exact_for_bounded_values(
    a: Decimal, b: Decimal, product: Fraction | None
) -> None:
    expected = product if product is not None else Fraction(a) * Fraction(b)
    assert Fraction(multiply(a, b)) == expected


def test_sums_of_bounded_values_are_exact() -> None:
    values = [D(LARGEST), D("0.000000000000000001"), D("-1e18"), D("1e-18")] * 250_000
    assert Fraction(total(values)) == 250_000 * (Fraction(LARGEST) - 10**18 + Fraction(2, 10**18))
    assert subtract(D("1e18"), D("1e-18")) == D("999999999999999999.999999999999999999")


def test_the_context_raises_instead_of_rounding() -> None:
    wide = D("1" + "0" * 100 + "1")  # 102 digits: far beyond the bounds
    with pytest.raises(Inexact):
        multiply(wide, wide)
    with pytest.raises(Inexact), money_context():
        _ = wide * wide
    assert MONEY.prec >= 2 * 36 + 2 * 36  # amount x price x cross rate, exactly


# -- explicit rounding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "part", "whole", "quantum", "rounding", "expected"),
    [
        (D(1), D(1), D(3), D("1e-36"), "ROUND_HALF_EVEN", D("0." + "3" * 36)),
        (D(2), D(1), D(3), D("0.01"), "ROUND_HALF_EVEN", D("0.67")),
        (D(6), D(1), D(3), D("1e-36"), "ROUND_HALF_EVEN", D(2)),  # exact: not padded
        (D("0.125"), D(1), D(1), D("0.01"), "ROUND_HALF_EVEN", D("0.12")),
        (D("0.135"), D(1), D(1), D("0.01"), "ROUND_HALF_EVEN", D("0.14")),
        (D(7), D(100), D(3), D(1), ROUND_FLOOR, D(233)),
        # Rounded once: 0.0149999...9 (31 digits) is 0.01; a division at 28 digits first
        # would have made it 0.015 and then 0.02.
        (
            D("0.0449999999999999999999999999997"),
            D(1),
            D(3),
            D("0.01"),
            "ROUND_HALF_EVEN",
            D("0.01"),
        ),  # fmt: skip
        # The product needs more digits than MONEY holds; the quotient does not.
        (
            D("1" + "0" * 90 + "1"),
            D("1e60"),
            D("1e60"),
            D(1),
            "ROUND_HALF_EVEN",
            D("1" + "0" * 90 + "1"),
        ),  # fmt: skip
    ],
)
def test_prorate_rounds_once_to_the_quantum(
    value: Decimal,
    part: Decimal,
    whole: Decimal,
    quantum: Decimal,
    rounding: str,
    expected: Decimal,
) -> None:
    assert prorate(value, part, whole, quantum=quantum, rounding=rounding) == expected


def test_divide_and_round_to() -> None:
    assert divide(D(1), D(8), quantum=D("0.01")) == D("0.12")
    assert divide(D(-1), D(3), quantum=D("0.1"), rounding=ROUND_FLOOR) == D("-0.4")
    assert round_to(D("1.005"), D("0.01")) == D("1.00")
    assert round_to(D("1e30"), D("0.01")) == D("1e30")


bounded = st.decimals(min_value=-(10**18), max_value=10**18, places=18, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(bounded, bounded, bounded)
def test_bounded_arithmetic_is_exact(a: Decimal, b: Decimal, c: Decimal) -> None:
    # amount x price x (a product of two prices): the widest figure keyfolio forms.
    assert Fraction(multiply(multiply(a, b), multiply(b, c))) == (
        Fraction(a) * Fraction(b) * Fraction(b) * Fraction(c)
    )
    assert Fraction(total([a, b, c])) == Fraction(a) + Fraction(b) + Fraction(c)
    assert parse_decimal(format_amount(a)) == a


@settings(max_examples=200, deadline=None)
@given(bounded, bounded, bounded.filter(lambda d: d != 0))
def test_prorate_is_correctly_rounded(value: Decimal, part: Decimal, whole: Decimal) -> None:
    exact = Fraction(value) * Fraction(part) / Fraction(whole)
    got = prorate(value, part, whole, quantum=D("1e-20"))
    assert abs(Fraction(got) - exact) <= Fraction(1, 2 * 10**20)
