"""The one decimal policy of keyfolio: bounds, one exact context, explicit rounding.

A float never touches an amount or a price; the full policy is in docs/money.md.

**Bounds.** Every amount, price and fee read from any input (CLI arguments, CSV files,
exchange and ticker responses) is at most 10^18 in absolute value with at most 18 decimal
places (:data:`INPUT`); :func:`parse_decimal` refuses anything else with an
:class:`AmountError` naming the field, so nothing beyond the bounds is ever stored. Trailing
zeros do not count as places (``"0.10000000000000000000"`` is 0.1). Values keyfolio forms
from those inputs have wider bounds of their own: a USD price may be a product of two
(:data:`PRICE`: 10^36, 36 places), a value ``amount x price`` and a sum of up to 10^12 of
them fits :data:`VALUE` (10^66, 54 places). A stored value outside its bounds (written by an
older keyfolio) is left out of every figure and reported as a :class:`RefusedValue`.

**One context.** Every sum, product and difference runs in :data:`MONEY`: 160 significant
digits, enough to hold exactly the widest figure keyfolio forms from bounded inputs (P/L's
``amount x price x cross rate``: 72 integer digits and 72 decimals, 144 digits) plus 12
digits for sums of up to 10^12 terms, and 4 to spare. It traps ``Inexact`` and ``Rounded``
(and ``InvalidOperation``, ``DivisionByZero``, ``Overflow``): a result that would need
rounding raises instead of losing digits, which is a bug, never a silent change. Use
:func:`total`, :func:`multiply`, :func:`subtract`, or :func:`money_context` around a block of
operators.

**Explicit rounding only.** A division is the one operation that cannot be exact; it goes
through :func:`divide` / :func:`prorate`, which round once, to a named quantum with a named
mode (half-even unless the caller says otherwise). Display rounding is explicit too:
:func:`format_usd` rounds to cents half-even (:data:`USD_ROUNDING`), :func:`round_to` and
:func:`format_fixed` round to a given quantum. :func:`format_amount` never rounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_05UP,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    localcontext,
)
from functools import cache

__all__ = [
    "BOUNDS_HINT",
    "CENT",
    "INPUT",
    "MAX_ABS",
    "MAX_PLACES",
    "MONEY",
    "PRECISION",
    "PRICE",
    "QUOTIENT_QUANTUM",
    "USD_ROUNDING",
    "VALUE",
    "ZERO",
    "AmountError",
    "Bounds",
    "RefusedValue",
    "divide",
    "format_amount",
    "format_fixed",
    "format_usd",
    "money_context",
    "multiply",
    "parse_decimal",
    "prorate",
    "round_to",
    "subtract",
    "total",
]

ZERO = Decimal(0)
ONE = Decimal(1)

MAX_PLACES = 18
"""The most decimal places an input amount, price or fee may have."""
MAX_ABS = Decimal("1e18")
"""The largest absolute value an input amount, price or fee may have."""

PRECISION = 160
"""Significant digits of :data:`MONEY` (see the module docstring for the arithmetic)."""

MONEY = Context(
    prec=PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emin=MIN_EMIN,
    Emax=MAX_EMAX,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded],
)
"""The one context every sum, product and difference of money runs in: exact or it raises."""

_WIDE = Context(
    prec=2 * PRECISION + 2,
    rounding=ROUND_05UP,
    Emin=MIN_EMIN,
    Emax=MAX_EMAX,
    flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# Quotients: twice the digits of MONEY, rounded with ROUND_05UP so that the one rounding to
# the caller's quantum that follows gives the correctly rounded result (no double rounding).
_WIDE_EXACT = _WIDE.copy()
_WIDE_EXACT.traps[Inexact] = True  # exact products; dropping trailing zeros is fine

USD_ROUNDING = ROUND_HALF_EVEN
"""How USD figures are rounded for display (to :data:`CENT`)."""
CENT = Decimal("0.01")
QUOTIENT_QUANTUM = Decimal("1e-36")
"""What :func:`divide` and :func:`prorate` round to unless told otherwise (half-even)."""


BOUNDS_HINT = (
    "keyfolio reads amounts, prices and fees of at most 10^18 in absolute value with at most "
    "18 decimal places (docs/money.md)."
)
"""The sentence in the hint of every refused input (CLI, CSV, exchange data)."""


class AmountError(ValueError):
    """An input amount, price or fee that is not a number or is outside :data:`INPUT`.

    ``str()`` names the field and the value: ``amount '1e30' is larger than 10^18 ...``.
    """

    def __init__(self, field: str, value: object, reason: str, *, out_of_bounds: bool) -> None:
        super().__init__(f"{field} {value!r} {reason}")
        self.field = field
        self.value = value
        self.reason = reason
        self.out_of_bounds = out_of_bounds
        """A number, but too large or with too many places (not garbage such as ``abc``)."""


@dataclass(frozen=True)
class Bounds:
    """The largest absolute value and the most decimal places a kind of value may have."""

    name: str
    max_abs: Decimal
    places: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.places)

    def admits(self, value: Decimal) -> bool:
        """Whether ``value`` is finite and within these bounds (cheap: called per stored row)."""
        return self.problem(value) is None

    def problem(self, value: Decimal) -> str | None:
        """Why ``value`` is outside these bounds (``"is larger than 10^18 ..."``), or None."""
        if not value.is_finite():
            return "is not a finite number"
        if not -self.max_abs <= value <= self.max_abs:
            return (
                f"is larger than 10^{self.max_abs.adjusted()} in absolute value "
                f"(the most keyfolio accepts for {self.name})"
            )
        text = str(value)  # the fast way to see the exponent: "12.5", "1E+30", "1.5E-7"
        dot = text.find(".")
        if "E" not in text and (dot < 0 or len(text) - dot - 1 <= self.places):
            return None
        if _within_places(value, self.places):
            return None
        return f"has more than {self.places} decimal places (the most keyfolio keeps)"


def _within_places(value: Decimal, places: int) -> bool:
    """``value`` has at most ``places`` decimal places once trailing zeros are dropped."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent >= -places:
        return True
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN, context=_WIDE) == value


INPUT = Bounds("an amount, price or fee", MAX_ABS, MAX_PLACES)
"""Any amount, price or fee read from outside: 10^18 and 18 decimal places."""
PRICE = Bounds("a USD price", Decimal("1e36"), 2 * MAX_PLACES)
"""A USD price: an input price, or the product of two (a cross rate via BTC)."""
VALUE = Bounds("a USD value", Decimal("1e66"), 3 * MAX_PLACES)
"""``amount x price``, and sums of up to 10^12 of them (a snapshot set's total)."""


@dataclass(frozen=True)
class RefusedValue:
    """A stored value outside its bounds: left out of every figure and reported.

    Written by an older keyfolio, which did not check the bounds. ``where`` says what holds it
    (``"balance"``, ``"price"``, ``"trade"``, ``"transfer"``, ``"snapshot"``).
    """

    where: str
    account: str | None
    asset: str | None
    field: str
    value: Decimal
    reason: str
    hint: str

    @property
    def message(self) -> str:
        owner = f" of account '{self.account}'" if self.account else ""
        asset = f" {self.asset}" if self.asset else ""
        return (
            f"stored {self.where}{owner}{asset}: {self.field} {self.value} {self.reason}; "
            "left out of every figure"
        )


def parse_decimal(value: str | int | Decimal, *, field: str = "amount") -> Decimal:
    """Parse an input amount, price or fee (a string, or an int/Decimal) within :data:`INPUT`.

    Empty strings, which OKX sends for "no value", parse as zero. Floats are refused so that
    binary rounding never sneaks in. Anything that is not a finite decimal number, is larger
    than 10^18 in absolute value or has more than 18 decimal places raises
    :class:`AmountError` (a ``ValueError``) naming ``field``; nothing is ever rounded.
    Trailing zeros beyond 18 places are dropped (the value is unchanged).
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{field}: refusing to parse {type(value).__name__} as money")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        text = value.strip()
        if text == "":
            return ZERO
        try:
            result = Decimal(text)
        except InvalidOperation:
            reason = "is not a decimal number"
            raise AmountError(field, value, reason, out_of_bounds=False) from None
    problem = INPUT.problem(result)
    if problem is not None:
        raise AmountError(field, value, problem, out_of_bounds=result.is_finite())
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        result = result.quantize(INPUT.quantum, context=_WIDE_EXACT)  # only zeros go
    return result


def money_context() -> AbstractContextManager[Context]:
    """``with money_context():`` runs a block of ``+ - *`` in :data:`MONEY` (a thread-local
    copy): exact, or ``Inexact``/``Rounded`` raises."""
    return localcontext(MONEY)


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum (zero for none), in :data:`MONEY`."""
    with localcontext(MONEY):
        return sum(values, ZERO)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """The exact product, in :data:`MONEY`."""
    return MONEY.multiply(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    """The exact difference ``a - b``, in :data:`MONEY`."""
    return MONEY.subtract(a, b)


def prorate(
    value: Decimal,
    part: Decimal,
    whole: Decimal,
    *,
    quantum: Decimal = QUOTIENT_QUANTUM,
    rounding: str = ROUND_HALF_EVEN,
) -> Decimal:
    """``value x part / whole`` rounded once to ``quantum`` (a power of ten) with ``rounding``.

    The product is exact; the quotient is correctly rounded, never rounded twice: it is first
    taken to one digit below ``quantum`` with ``ROUND_05UP``, which keeps the information a
    second rounding needs. A quotient that is exact at ``quantum`` or coarser is returned as
    it is (``6 x 1 / 3`` is ``2``, not ``2.000...``).
    """
    # Hot in the P/L replay: positional arguments and cached contexts are measurably faster.
    product = value if part is ONE else _WIDE_EXACT.multiply(value, part)
    digits = product.adjusted() - whole.adjusted() - quantum.adjusted() + 3
    if digits > _WIDE.prec:
        raise Inexact(f"the quotient {product} / {whole} is beyond the money bounds")
    quotient = _quotient_context(digits if digits > 2 else 2).divide(product, whole)
    rounded = quotient.quantize(quantum, rounding, _WIDE)
    return quotient if rounded == quotient else rounded


@cache
def _quotient_context(digits: int) -> Context:
    """A context of ``digits`` significant digits rounding ROUND_05UP (see :func:`prorate`)."""
    context = _WIDE.copy()
    context.prec = digits
    return context


def divide(
    dividend: Decimal,
    divisor: Decimal,
    *,
    quantum: Decimal = QUOTIENT_QUANTUM,
    rounding: str = ROUND_HALF_EVEN,
) -> Decimal:
    """``dividend / divisor`` rounded once to ``quantum`` with ``rounding`` (see
    :func:`prorate`)."""
    return prorate(dividend, ONE, divisor, quantum=quantum, rounding=rounding)


def round_to(value: Decimal, quantum: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded to ``quantum`` (e.g. ``Decimal("0.01")``) with ``rounding``."""
    return value.quantize(quantum, rounding=rounding, context=_WIDE)


def format_amount(value: Decimal) -> str:
    """The exact value as a plain string, no exponent, no trailing zeros: ``0.5``, ``1000``.

    Never rounds: every digit of ``value`` is shown.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_fixed(value: Decimal, places: int, *, rounding: str = ROUND_HALF_EVEN) -> str:
    """``value`` rounded to ``places`` decimals with ``rounding``, shown with all of them."""
    return format(round_to(value, Decimal(1).scaleb(-places), rounding=rounding), "f")


def format_usd(value: Decimal) -> str:
    """USD for display: rounded half-even (:data:`USD_ROUNDING`) to cents, with thousands
    separators: ``30,000.00``."""
    return f"{round_to(value, CENT, rounding=USD_ROUNDING):,.2f}"
