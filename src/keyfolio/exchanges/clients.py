"""The ccxt instances of a pool's connectors: constructed once per class and configuration.

Constructing a ccxt exchange costs 1.5-5 ms of CPU (it merges the exchange's whole
description, thousands of entries, into the instance and walks every attribute to add camelCase
aliases); a 50-account OKX sync built 50 of them one after another, a sixth of its CPU
(docs/benchmarks.md). :class:`ClientFactory` lets ccxt construct the first instance of each
class and configuration, keeps it as a template that never makes a request nor holds a key,
and gives every connector a copy of it (0.2-0.8 ms):

* every container is deep-copied (options, URLs, headers, markets, caches, balances): nothing
  one account does is seen by another;
* except the exchange's static description, :data:`READ_ONLY`, which ccxt fills while it
  constructs the instance and only reads afterwards (the endpoint table, error codes,
  capabilities): those are shared with the template;
* the pool's objects (the HTTP session, the SSL context, the logger) are shared, as they were;
* each copy gets a rate limiter of its own (ccxt's ``init_throttler``) and its own ``origin``.

The connector then sets its credentials and URLs on its copy as it did on a new instance.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["READ_ONLY", "ClientFactory"]

_CONTAINERS = (dict, list, set, tuple)

READ_ONLY = frozenset(
    {"api", "exceptions", "features", "has", "httpExceptions", "requiredCredentials", "timeframes"}
)
"""Attributes ccxt fills while constructing an instance and never changes afterwards (checked
against ccxt 4.5's sources: only ``after_construct`` writes ``has`` and ``features``;
``commonCurrencies``, which Kraken's ``fetch_currencies`` extends, is copied)."""


def _frozen(value: Any) -> Any:
    """A hashable image of a ccxt config: containers by content, other objects by identity
    (the pool's session, SSL context and logger are the same objects for every connector)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return ("object", id(value))


class ClientFactory:
    """Makes ccxt exchange instances for one pool (one event loop, one session)."""

    def __init__(self) -> None:
        self._templates: dict[tuple[type, Any], Any] = {}

    @property
    def constructed(self) -> int:
        """How many instances ccxt constructed (one per class and configuration)."""
        return len(self._templates)

    def create(self, cls: type, config: dict[str, Any]) -> Any:
        """A new instance of ``cls`` with ``config``, as ``cls(config)`` makes it."""
        key = (cls, _frozen(config))
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = cls(config)
        return _copy(template)

    def close(self) -> None:
        """Forget the templates; they hold the session only by reference (never a socket)."""
        templates, self._templates = self._templates, {}
        for template in templates.values():
            template.session = None  # so ccxt's __del__ sees nothing left to close


def _copy(template: Any) -> Any:
    clone: Any = object.__new__(type(template))  # ccxt classes define no __new__
    state = template.__dict__
    shared = {
        id(value): value
        for name, value in state.items()
        if name in READ_ONLY or not isinstance(value, _CONTAINERS)
    }
    clone.__dict__.update(copy.deepcopy(state, shared))
    clone.init_throttler()  # a rate limiter (queue, tokens) of its own
    clone.origin = clone.uuid()
    return clone
