"""keyfolio.pricing: USD prices from OKX's public spot tickers (one request per sync).

:func:`fetch_spot_tickers` fetches every spot market at once; :func:`price_assets` turns them
into a :class:`~keyfolio.domain.records.Price` (or ``None``) per asset; :func:`value_of`
multiplies an amount by a price. Decimal throughout.
"""

from keyfolio.pricing.okx_tickers import Ticker, fetch_spot_tickers
from keyfolio.pricing.valuation import PAR_ASSETS, price_assets, value_of

__all__ = ["PAR_ASSETS", "Ticker", "fetch_spot_tickers", "price_assets", "value_of"]
