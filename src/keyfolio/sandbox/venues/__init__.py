"""The venues the sandbox speaks, one package or module each, imported on first use.

``venue(exchange_id)`` gives a venue's :class:`~keyfolio.sandbox.core.venue.Venue`;
:func:`load_state` / :func:`parse_state` validate a state document with its venue's rules.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.state import load_document
from keyfolio.sandbox.core.venue import Venue

__all__ = ["VENUE_IDS", "load_state", "parse_state", "venue", "venue_of"]

VENUE_IDS: tuple[str, ...] = ("okx", "binance", "bybit", "coinbase", "kraken")
"""Every venue the sandbox can play (``keyfolio.sandbox.venues.<id>``), OKX first."""


def venue(exchange_id: str) -> Venue:
    """The venue of ``exchange_id``; ValueError naming the known ones otherwise."""
    if exchange_id not in VENUE_IDS:
        raise ValueError(
            f"the sandbox does not speak {exchange_id!r}; it speaks {', '.join(VENUE_IDS)}"
        )
    module = importlib.import_module(f"keyfolio.sandbox.venues.{exchange_id}")
    found = module.VENUE
    assert isinstance(found, Venue)
    return found


def venue_of(state: Any) -> Venue:
    """The venue a validated state belongs to (OKX's own format has no ``exchange``)."""
    return venue(str(getattr(state, "exchange", "okx")))


def parse_state(data: dict[str, Any], *, origin: str = "<state>") -> Any:
    """Validate an already-decoded state document with its venue's rules."""
    if not isinstance(data, dict):
        raise SandboxStateError(f"{origin}: (top level): must be a JSON object")
    exchange = data.get("exchange", "okx")
    if not isinstance(exchange, str) or exchange not in VENUE_IDS:
        raise SandboxStateError(
            f"{origin}: exchange: {exchange!r} is not a sandbox venue; use one of "
            f"{', '.join(VENUE_IDS)}"
        )
    return venue(exchange).parse_state(data, origin=origin)


def load_state(path: Path) -> Any:
    """Read and validate a JSON state file. Raises SandboxStateError (exit code 2)."""
    return parse_state(load_document(path), origin=str(path))
