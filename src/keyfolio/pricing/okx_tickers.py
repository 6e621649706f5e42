"""OKX public spot tickers: one request for every spot market.

``GET {base_url}/api/v5/market/tickers?instType=SPOT`` needs no key. Every number in OKX's
answer is a string; it is parsed straight into :class:`~decimal.Decimal` (JSON numbers are
read as Decimal too and then refused, so a float never exists).

Failures become :class:`~keyfolio.errors.PricingError` naming the host, with a hint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from keyfolio.domain.money import parse_decimal
from keyfolio.errors import PricingError

__all__ = ["TICKERS_PATH", "Ticker", "fetch_spot_tickers"]

logger = logging.getLogger(__name__)

TICKERS_PATH = "/api/v5/market/tickers"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_HINTS = {
    "50011": "OKX is rate limiting this IP address. Wait a few seconds and sync again.",
    "50013": "OKX is busy. Try again in a minute; the last known prices are kept.",
    "50026": "OKX reported a system error. Try again in a minute; the last known prices are kept.",
    "50001": "OKX is temporarily unavailable. Try again later; the last known prices are kept.",
}
_NETWORK_HINT = (
    "Check the network connection (and the region's host); the last known prices are kept."
)
_BAD_RESPONSE_HINT = (
    "Try again later; if it persists, report it with the --debug output. "
    "The last known prices are kept."
)


@dataclass(frozen=True)
class Ticker:
    """One OKX spot market: the last trade price and the price 24 hours ago (``open24h``)."""

    inst_id: str
    last: Decimal
    open24h: Decimal | None
    ts: datetime


async def fetch_spot_tickers(
    base_url: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 (the API: passed on to httpx per request)
    demo: bool = False,
    client: httpx.AsyncClient | None = None,
) -> dict[str, Ticker]:
    """Fetch every OKX spot ticker in one request, keyed by ``instId`` (``"BTC-USDT"``).

    ``base_url`` is the region's host, e.g. ``https://www.okx.com``, ``https://eea.okx.com``
    or ``https://us.okx.com``. ``demo`` adds OKX's ``x-simulated-trading: 1`` header.
    A given ``client`` is used as is and not closed. Rows that cannot be read (a missing
    instId, a number sent as a JSON number, a bad timestamp) are skipped and logged.

    Raises :class:`~keyfolio.errors.PricingError` on a network failure, an HTTP error, an OKX
    error code or an unreadable answer; the message names the host.
    """
    host = _host_of(base_url)
    url = base_url.rstrip("/") + TICKERS_PATH
    headers = {"Accept": "application/json"}
    if demo:
        headers["x-simulated-trading"] = "1"
    params = {"instType": "SPOT"}
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.get(url, params=params, headers=headers)
        else:
            response = await client.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise PricingError(
            f"OKX at {host} did not answer the tickers request within {timeout:g} s",
            hint=_NETWORK_HINT,
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise PricingError(
            f"could not reach OKX at {host} for prices: {type(exc).__name__}: {exc}",
            hint=_NETWORK_HINT,
        ) from None
    rows = _rows_of(response, host)
    tickers = _parse_rows(rows, host)
    logger.info("fetched %d spot tickers from %s", len(tickers), host)
    return tickers


def _host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise PricingError(
            f"{base_url!r} is not an OKX base URL",
            hint="Use the region's host, e.g. https://www.okx.com, https://eea.okx.com "
            "or https://us.okx.com.",
        )
    return parts.netloc


def _rows_of(response: httpx.Response, host: str) -> list[Any]:
    """The ``data`` array of an OKX envelope, or a PricingError saying what went wrong."""
    status = response.status_code
    try:
        envelope = json.loads(response.content, parse_float=Decimal)
    except ValueError:  # also UnicodeDecodeError
        envelope = None
    if isinstance(envelope, dict) and "code" in envelope:
        code = str(envelope.get("code"))
        if code != "0":
            msg = str(envelope.get("msg") or "no message")[:200]
            raise PricingError(
                f"OKX at {host} refused the tickers request: code {code} ({msg}), HTTP {status}",
                hint=_HINTS.get(code, _BAD_RESPONSE_HINT),
            )
    if status != 200:
        raise PricingError(
            f"OKX at {host} answered the tickers request with HTTP {status}",
            hint=_HINTS["50011"] if status == 429 else _BAD_RESPONSE_HINT,
        )
    if envelope is None:
        raise PricingError(
            f"OKX at {host} sent a tickers answer that is not valid JSON",
            hint=_BAD_RESPONSE_HINT,
        )
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(envelope, dict) or "code" not in envelope or not isinstance(data, list):
        raise PricingError(
            f"OKX at {host} sent a tickers answer without the expected code/data fields",
            hint=_BAD_RESPONSE_HINT,
        )
    return data


def _parse_rows(rows: list[Any], host: str) -> dict[str, Ticker]:
    tickers: dict[str, Ticker] = {}
    skipped = 0
    for row in rows:
        ticker = _parse_row(row)
        if ticker is None:
            skipped += 1
        else:
            tickers[ticker.inst_id] = ticker
    if skipped:
        logger.warning("skipped %d unreadable ticker rows from %s", skipped, host)
    return tickers


def _parse_row(row: object) -> Ticker | None:
    """One ticker row, or None if it is not a readable spot ticker."""
    if not isinstance(row, Mapping):
        return None
    inst_id = row.get("instId")
    if not isinstance(inst_id, str) or not inst_id or row.get("instType", "SPOT") != "SPOT":
        return None
    last, open24h, ts = row.get("last", ""), row.get("open24h", ""), row.get("ts")
    # OKX sends numbers as strings; anything else (a JSON number) is refused.
    if not isinstance(last, str) or not isinstance(open24h, str) or not isinstance(ts, str):
        logger.debug("ticker %s: fields are not strings, skipped", inst_id)
        return None
    try:
        last_price = parse_decimal(last, field=f"{inst_id}.last")
        open_price = parse_decimal(open24h, field=f"{inst_id}.open24h") if open24h else None
        moment = _EPOCH + timedelta(milliseconds=int(ts))
    except (ValueError, OverflowError, OSError) as exc:
        logger.debug("ticker %s skipped: %s", inst_id, exc)
        return None
    if last_price < 0 or (open_price is not None and open_price < 0):
        return None
    return Ticker(inst_id=inst_id, last=last_price, open24h=open_price, ts=moment)
