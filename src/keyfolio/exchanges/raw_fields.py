"""Reading the fields of a venue's raw history records, as the venue sent them (decoded JSON).

Every history module reads its venue's rows with one :class:`RawFields`: text and decimal strings
straight from the answer (never ccxt's floats), each failure an
:class:`~keyfolio.errors.ExchangeResponseError` that names the venue, the list and the field, so
that nothing of an unreadable page is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keyfolio.domain.money import BOUNDS_HINT, parse_decimal
from keyfolio.errors import ExchangeResponseError

__all__ = ["RawFields"]


@dataclass(frozen=True)
class RawFields:
    """The field readers of one venue (``venue`` as the messages name it, e.g. ``Binance``).

    ``ints_as_text``: an integer where text is expected reads as its digits (Binance's and
    Bybit's numeric ids). ``blank_is_zero``: a null or empty amount reads as zero (Bybit), not
    as an unreadable one. An absent amount is zero everywhere.
    """

    venue: str
    ints_as_text: bool = False
    blank_is_zero: bool = False

    def text(self, row: Mapping[str, Any], name: str, what: str) -> str:
        """The non-empty text of ``row[name]`` (a record of the list ``what``)."""
        value = row.get(name)
        if self.ints_as_text and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value:
            raise ExchangeResponseError(
                f"{self.venue} {what}: a record has no {name!r} ({value!r})."
            )
        return value

    def decimal(self, row: Mapping[str, Any], name: str, what: str) -> Decimal:
        """The decimal string ``row[name]`` as a Decimal, exactly."""
        value = row.get(name, "0")
        if self.blank_is_zero and not value:
            value = "0"
        return self.amount(value, name, what)

    def amount(self, value: Any, name: str, what: str) -> Decimal:
        """A decimal string of the field ``name`` as a Decimal, exactly."""
        if not isinstance(value, str):
            raise ExchangeResponseError(f"{self.venue} {what}: {name} is not a string: {value!r}.")
        try:
            return parse_decimal(value, field=f"{what} {name}")
        except ValueError as exc:
            raise ExchangeResponseError(
                f"{self.venue} {what}: {exc}.",
                hint=f"Nothing of this page was imported. {BOUNDS_HINT} If {self.venue}'s own "
                "site shows this record, report it with the --debug output.",
            ) from exc
