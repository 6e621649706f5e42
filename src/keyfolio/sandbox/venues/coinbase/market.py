"""Coinbase market data: server time, products (spot books), tickers, ``/v2`` currency lists.

Products are the state's tickers as ``BASE-QUOTE`` books. As on Coinbase, every USD book has a
USDC twin (``BTC-USDC``, ``"alias": "BTC-USD"``: the same book) unless the state gives that market
itself. Numbers are strings; there is no 24 h open, only ``price_percentage_change_24h``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from keyfolio.sandbox.core.book import Book, Ticker, now_ms
from keyfolio.sandbox.venues.coinbase.common import (
    FIAT,
    Query,
    Row,
    iso,
    iso_ms,
    uuid_of,
    v2_failure,
    v3_failure,
)

__all__ = [
    "Product",
    "best_bid_ask",
    "crypto_currencies",
    "currency_name",
    "exchange_rates",
    "fiat_currencies",
    "product",
    "product_ticker",
    "products",
    "products_of",
    "time_v2",
    "time_v3",
]

_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "USD": "US Dollar", "USDC": "USDC",
          "USDT": "Tether", "EUR": "Euro", "GBP": "British Pound", "SOL": "Solana",
          "ADA": "Cardano", "CGLD": "Celo", "ETH2": "Ethereum 2"}  # fmt: skip
Product = tuple[str, Ticker, str]
"""(product id, the book's ticker, the id of the book it aliases or "")."""


def currency_name(code: str) -> str:
    return _NAMES.get(code, code)


def time_v3(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/time``: every field a string."""
    ms = now_ms()
    return {"iso": iso(ms), "epochSeconds": str(ms // 1000), "epochMillis": str(ms)}


def time_v2(book: Book, query: Query) -> Row:
    """``GET /v2/time``: the epoch is a number."""
    ms = now_ms()
    return {"data": {"iso": iso(ms), "epoch": ms // 1000}}


def products_of(book: Book) -> list[Product]:
    """Every book and the USDC aliases of the USD books, sorted by product id."""
    found: dict[str, Product] = {t.symbol: (t.symbol, t, "") for t in book.tickers.values()}
    for ticker in list(book.tickers.values()):
        if ticker.quote == "USD":
            twin = f"{ticker.base}-USDC"
            found.setdefault(twin, (twin, ticker, ticker.symbol))
    return [found[name] for name in sorted(found)]


def _percent(t: Ticker) -> str:
    if t.open24h == 0 or t.open24h == t.last:
        return "0"
    change = ((t.last - t.open24h) / t.open24h * 100).quantize(Decimal("1e-14"), ROUND_HALF_EVEN)
    return f"{change.normalize():f}"


def _increment(price: Decimal) -> str:
    return "0.01" if price >= 1 else "0.00000001"


def _product_row(item: Product, aliases: dict[str, list[str]]) -> Row:
    product_id, t, alias = item
    base, quote = product_id.split("-")
    return {
        "product_id": product_id, "price": f"{t.last.normalize():f}",
        "price_percentage_change_24h": _percent(t), "volume_24h": f"{t.vol24h.normalize():f}",
        "volume_percentage_change_24h": "0", "base_increment": "0.00000001",
        "quote_increment": _increment(t.last), "quote_min_size": "1",
        "quote_max_size": "150000000", "base_min_size": "0.00000001", "base_max_size": "3400",
        "base_name": currency_name(base), "quote_name": currency_name(quote), "watched": False,
        "is_disabled": False, "new": False, "status": "online", "cancel_only": False,
        "limit_only": False, "post_only": False, "trading_disabled": False,
        "auction_mode": False, "product_type": "SPOT", "quote_currency_id": quote,
        "base_currency_id": base, "fcm_trading_session_details": None,
        "mid_market_price": "", "alias": alias, "alias_to": aliases.get(product_id, []),
        "base_display_symbol": base, "quote_display_symbol": quote, "view_only": False,
        "price_increment": _increment(t.last), "display_name": product_id,
        "product_venue": "CBE",
        "approximate_quote_24h_volume": f"{(t.vol24h * t.last).normalize():f}",
    }  # fmt: skip


def _aliases(items: list[Product]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for product_id, _, alias in items:
        if alias:
            found.setdefault(alias, []).append(product_id)
    return found


def _int(query: Query, name: str, default: int) -> int:
    raw = query.get(name)
    if raw == "":
        return default
    if not raw.isdigit():
        raise v3_failure(400, "INVALID_ARGUMENT", f"{name} must be a non-negative integer")
    return int(raw)


def products(book: Book, query: Query) -> Row:
    """``GET .../market/products`` (public) and ``.../products`` (private): ``product_type``,
    repeated ``product_ids``, ``limit``/``offset``. Futures: the sandbox lists none."""
    items = products_of(book)
    aliases = _aliases(items)
    kind = query.get("product_type")
    if kind and kind not in ("SPOT", "FUTURE", "UNKNOWN_PRODUCT_TYPE"):
        raise v3_failure(400, "INVALID_ARGUMENT", f"unknown product_type {kind}")
    if kind == "FUTURE":
        items = []
    wanted = query.all("product_ids")
    if wanted:
        items = [item for item in items if item[0] in wanted]
    offset, limit = _int(query, "offset", 0), _int(query, "limit", 0)
    page = items[offset : offset + limit] if limit else items[offset:]
    return {"products": [_product_row(item, aliases) for item in page],
            "num_products": len(items)}  # fmt: skip


def _one(book: Book, query: Query) -> Product:
    product_id = query.match.get("product_id", "")
    for item in products_of(book):
        if item[0] == product_id:
            return item
    raise v3_failure(404, "NOT_FOUND", "ProductID is invalid")


def product(book: Book, query: Query) -> Row:
    """``GET .../products/{product_id}``."""
    items = products_of(book)
    return _product_row(_one(book, query), _aliases(items))


def product_ticker(book: Book, query: Query) -> Row:
    """``GET .../products/{product_id}/ticker``: the last trade(s) and the top of the book."""
    product_id, t, _ = _one(book, query)
    limit = max(1, min(_int(query, "limit", 1), 100))
    price = f"{t.last.normalize():f}"
    trades = [
        {"trade_id": str(1000 + n), "product_id": product_id, "price": price, "size": "0.01",
         "time": iso_ms(t.ts - n * 1000), "side": "BUY" if n % 2 else "SELL", "bid": "",
         "ask": "", "exchange": "CBE"}
        for n in range(limit)
    ]  # fmt: skip
    return {"trades": trades, "best_bid": price, "best_ask": price}


def best_bid_ask(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/best_bid_ask`` [repeated ``product_ids``]."""
    wanted = query.all("product_ids")
    items = [item for item in products_of(book) if not wanted or item[0] in wanted]
    return {
        "pricebooks": [
            {"product_id": product_id,
             "bids": [{"price": f"{t.last.normalize():f}", "size": "1"}],
             "asks": [{"price": f"{t.last.normalize():f}", "size": "1"}],
             "time": iso_ms(t.ts)}
            for product_id, t, _ in items
        ]
    }  # fmt: skip


def fiat_currencies(book: Book, query: Query) -> Row:
    """``GET /v2/currencies``: the cash currencies."""
    return {"data": [{"id": code, "name": currency_name(code), "min_size": "0.01"}
                     for code in sorted(FIAT)]}  # fmt: skip


def crypto_currencies(book: Book, query: Query) -> Row:
    """``GET /v2/currencies/crypto``: every crypto asset the sandbox knows."""
    rows = [
        {"asset_id": uuid_of("asset", code), "code": code, "name": currency_name(code),
         "color": "#0052FF", "sort_index": index, "exponent": 8, "type": "crypto",
         "address_regex": ".+"}
        for index, code in enumerate(a for a in book.assets() if a not in FIAT)
    ]  # fmt: skip
    return {"data": rows}


def exchange_rates(book: Book, query: Query) -> Row:
    """``GET /v2/exchange-rates?currency=USD``: units of each asset per one unit of ``currency``."""
    currency = query.get("currency", "USD").upper()
    base_usd = book.usd_price(currency)
    if base_usd is None:
        raise v2_failure(400, "invalid_request", f"Currency {currency} is invalid")
    rates: dict[str, str] = {}
    for asset in book.assets():
        price = book.usd_price(asset)
        if price:
            rate = (base_usd / price).quantize(Decimal("1e-12"), ROUND_HALF_EVEN)
            rates[asset] = f"{rate.normalize():f}"
    return {"data": {"currency": currency, "rates": rates}}
