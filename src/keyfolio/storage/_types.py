"""Column types that keep money exact and datetimes timezone-aware.

``DecimalText`` stores a ``Decimal`` as the exact string ``format(value, "f")`` and reads it
back with ``Decimal()``: no float, no driver-specific NUMERIC rounding, the same on SQLite and
PostgreSQL. ``UTCDateTime`` stores UTC and always hands back an aware UTC datetime, although
SQLite drops the offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["DecimalText", "UTCDateTime", "as_utc", "to_text"]


def to_text(value: object, *, field: str = "amount") -> str:
    """The exact decimal string of ``value``; refuses floats, non-Decimals and non-finite values."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{field}: expected Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return format(value, "f")


def as_utc(value: datetime, *, field: str = "datetime") -> datetime:
    """``value`` converted to UTC; refuses naive datetimes, whose instant is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{field}: expected datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: naive datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact ``Decimal`` stored as decimal text (``"0.000000012345678901"``)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return to_text(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))

    def process_literal_param(self, value: Decimal | None, dialect: Dialect) -> str:
        return "NULL" if value is None else "'" + to_text(value) + "'"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
