"""OKX's documented rate limits, enforced per API key per endpoint (public: per IP).

Exceeding a limit answers ``50011`` "Too Many Requests" with HTTP 429. Rejected requests do not
count. The windows slide (the last N seconds); the core's limiter counts them.
"""

from __future__ import annotations

__all__ = ["PRIVATE_LIMITS", "PUBLIC_LIMITS"]

# path -> (requests, window seconds); per key. Source: the OKX V5 docs' endpoint pages.
PRIVATE_LIMITS: dict[str, tuple[int, float]] = {
    "/api/v5/account/balance": (10, 2.0),
    "/api/v5/account/config": (5, 2.0),
    "/api/v5/account/positions": (10, 2.0),
    "/api/v5/account/bills": (5, 1.0),
    "/api/v5/account/bills-archive": (5, 2.0),
    "/api/v5/asset/balances": (6, 1.0),
    "/api/v5/asset/bills": (6, 1.0),
    "/api/v5/asset/currencies": (6, 1.0),
    "/api/v5/asset/asset-valuation": (1, 1.0),
    "/api/v5/asset/deposit-history": (6, 1.0),
    "/api/v5/asset/withdrawal-history": (6, 1.0),
    "/api/v5/finance/savings/balance": (6, 1.0),
    "/api/v5/finance/staking-defi/orders-active": (3, 1.0),
    "/api/v5/finance/staking-defi/eth/balance": (6, 1.0),
    "/api/v5/trade/fills": (60, 2.0),
    "/api/v5/trade/fills-history": (10, 2.0),
    "/api/v5/account/bills-history-archive": (10, 2.0),
    "/api/v5/trade/fills-archive": (5, 2.0),
}
"""``GET`` limits. The archives' applications (``POST``) are limited per account and day in
:mod:`keyfolio.sandbox.venues.okx.archive`."""

# path -> (requests, window seconds); per caller IP (instruments: per IP and instType).
PUBLIC_LIMITS: dict[str, tuple[int, float]] = {
    "/api/v5/public/time": (20, 2.0),
    "/api/v5/public/instruments": (20, 2.0),
    "/api/v5/market/tickers": (20, 2.0),
    "/api/v5/market/ticker": (20, 2.0),
    "/api/v5/market/index-tickers": (20, 2.0),
}
