"""keyfolio.pricing: USD prices from the linked venues' spot tickers (one request per venue).

:func:`price_across` turns the venues' tickers into a :class:`~keyfolio.domain.records.Price`
(or ``None``) per asset, preferring the venue that holds it; :func:`value_of` multiplies an amount
by a price. Decimal throughout. The tickers come from the venue connectors (``exchanges``).
"""

from keyfolio.domain.records import Ticker
from keyfolio.pricing.valuation import (
    PAR_SOURCE,
    STABLECOINS,
    USD_SOURCE,
    price_across,
    price_assets,
    route_of,
    value_of,
)

__all__ = [
    "PAR_SOURCE",
    "STABLECOINS",
    "Ticker",
    "USD_SOURCE",
    "price_across",
    "price_assets",
    "route_of",
    "value_of",
]
