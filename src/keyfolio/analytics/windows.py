"""The time windows every analytics view speaks of: ``1h`` to ``1y`` and ``all``.

Defined once here; the value series, value changes and top movers all use these keys.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from keyfolio.errors import UsageError

__all__ = ["DEFAULT_WINDOW", "WINDOWS", "parse_window", "window_start"]

logger = logging.getLogger(__name__)

#: Window key -> its length; ``None`` for ``all`` (since the first snapshot).
#: ``1y`` is 365 days and ``30d``/``90d`` are fixed day counts (no calendar months).
WINDOWS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
    "all": None,
}

DEFAULT_WINDOW = "30d"

# Spellings accepted besides the canonical keys (compared lower-cased, spaces removed).
_ALIASES: dict[str, str] = {
    "60m": "1h",
    "1d": "24h",
    "1w": "7d",
    "1m": "30d",
    "3m": "90d",
    "365d": "1y",
    "12m": "1y",
    "max": "all",
}


def parse_window(text: str) -> str:
    """Return the canonical window key for ``text`` (``"24H"`` -> ``"24h"``, ``"1d"`` -> ``"24h"``).

    Raises ``UsageError`` naming the bad value, with a hint listing the valid windows.
    """
    key = text.strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in WINDOWS:
        raise UsageError(
            f"Unknown window {text!r}.",
            hint=f"Use one of: {', '.join(WINDOWS)}.",
        )
    return key


def window_start(window: str, now: datetime) -> datetime | None:
    """The start of ``window`` ending at ``now``; ``None`` for ``all`` (no fixed start)."""
    length = WINDOWS[parse_window(window)]
    return None if length is None else now - length
