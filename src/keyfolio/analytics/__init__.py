"""Pure portfolio analytics: value changes, rankings, allocation and P/L (Decimal only).

Import from the module that owns the concept: ``keyfolio.analytics.pnl``,
``keyfolio.analytics.changes``, ``keyfolio.analytics.movers``, ``keyfolio.analytics.allocation``,
``keyfolio.analytics.windows``.
"""

__all__: list[str] = []
