"""The Coinbase connector: Advanced Trade and Coinbase App with a CDP key, read from raw JSON.

=================  ===============================================  ==============================
Source             Endpoint (ccxt implicit method)                  Amount
=================  ===============================================  ==============================
Wallets (trading)  ``GET /api/v3/brokerage/accounts`` (cursor,      ``available_balance`` +
                   ``v3PrivateGetBrokerageAccounts``)               ``hold``, per wallet
Staked (staked)    ``GET /v2/accounts`` (``starting_after``,        ``balance.amount`` of the
                   ``v2PrivateGetAccounts``)                        ``Staked <CODE>`` wallets
=================  ===============================================  ==============================

**Never count one coin twice:** a wallet's ``hold`` (open orders) is part of its balance, so the
total is ``available + hold``, never the balance plus the hold. ``/v2/accounts`` lists the same
wallets again (its ids are the v3 uuids): only its legacy staking wallets (``Staked ADA``) and the
old staked-ETH wallet ``ETH2`` are taken from it, and a v3 row with such a name is skipped. CDP
keys authenticate with a JWT per request (ES256 or EdDSA); see docs/exchanges/coinbase.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from keyfolio.domain.assets import AssetRule
from keyfolio.domain.balances import KeyInfo, PermissionWords, Source
from keyfolio.domain.money import parse_decimal, prorate
from keyfolio.domain.records import Ticker
from keyfolio.errors import (
    ClockSkewError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    KeyRefusedError,
    PermissionDeniedError,
    RateLimitedError,
)
from keyfolio.exchanges.coinbase_keys import CdpSecret, cdp_secret, secret_error
from keyfolio.exchanges.connector import Amounts, Feed, VenueConnector, add_amount, ticker_of
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.venue import IpLimit, SourceInfo, VenueInfo

__all__ = ["PERMISSION_WORDS", "VENUE", "CoinbaseConnector"]

logger = logging.getLogger(__name__)

_GUIDE = (
    "In the Coinbase Developer Platform (portal.cdp.coinbase.com) open API Keys > Secret API "
    "Keys > Create API key, choose the portfolio, under API restrictions tick only 'View' "
    "('Trade' and 'Transfer' off), optionally add this machine's IP address to the IP "
    "allowlist, and link the key with its key name and its private key (the downloaded "
    "cdp_api_key.json works with --secret-file)."
)

#: ``key_permissions`` flags and how the CDP portal names them. Only ``can_view`` may be true.
PERMISSION_WORDS = PermissionWords(
    read=frozenset({"can_view"}),
    labels={"can_view": "View", "can_trade": "Trade", "can_transfer": "Transfer"},
)

_UNAUTHORIZED_HINT = (
    "Coinbase answers '401 Unauthorized' to every authentication problem and does not say "
    "which. Check, in turn: (1) the API key name: the whole 'organizations/.../apiKeys/...' "
    "name (or an Ed25519 key's id) exactly as the CDP portal shows it, for a key that still "
    "exists; (2) the private key: the one shown with that key name, complete ('-----BEGIN EC "
    "PRIVATE KEY-----' to '-----END EC PRIVATE KEY-----', or the Ed25519 key); (3) this "
    "machine's clock: each request is signed for 2 minutes from the local time, so a clock "
    "that is off is refused (`timedatectl set-ntp true`); (4) IP binding: a key with an IP "
    "allowlist in the CDP portal only works from the addresses on it. `keyfolio doctor` "
    "measures the clock."
)

VENUE = VenueInfo(
    id="coinbase",
    name="Coinbase",
    ccxt_id="coinbase",
    credentials=("apiKey", "secret"),
    labels={"apiKey": "API Key Name", "secret": "Private Key"},
    sources=(
        SourceInfo(Source.TRADING, "Wallets", "GET /api/v3/brokerage/accounts"),
        SourceInfo(Source.STAKED, "Staked", "GET /v2/accounts (Staked <CODE> wallets)"),
    ),
    words=PERMISSION_WORDS,
    key_guide=_GUIDE,
    connector="keyfolio.exchanges.coinbase:CoinbaseConnector",
    concurrency=50,  # 30 requests/s per key: accounts never compete (docs/benchmarks.md)
    hosts=("coinbase.com",),
    ip_limits=(
        # Public endpoints: 10 requests / s per IP (private ones: 30 / s per key).
        IpLimit(
            "public",
            (
                "/api/v3/brokerage/market/",
                "/api/v3/brokerage/time",
                "/v2/time",
                "/v2/currencies",
                "/v2/exchange-rates",
            ),
            10,
            1.0,
        ),  # fmt: skip
    ),
    asset_rules=(
        AssetRule(code="CGLD", asset="CELO", note="Coinbase's old code for Celo"),
        AssetRule(
            code="ETH2",
            asset="ETH",
            source=Source.STAKED,
            note="Coinbase's legacy staked-ETH wallet; counted once, from /v2/accounts",
        ),
    ),
    codes={
        "HTTP 401": (
            KeyRefusedError,
            "refused the request{account}: 401 Unauthorized (the key name, the private key, "
            "the clock or the key's IP allowlist)",
        ),
        "authentication_error": (KeyRefusedError, "refused the credentials{account}"),
        "invalid_token": (KeyRefusedError, "refused the credentials{account}"),
        "expired_token": (KeyRefusedError, "says the signed request has expired{account}"),
        "revoked_token": (KeyRefusedError, "says the key was revoked{account}"),
        "unauthorized": (KeyRefusedError, "refused the credentials{account}"),
        "PERMISSION_DENIED": (
            PermissionDeniedError,
            "refused the request{account}: the key lacks the scope (403)",
        ),
        "invalid_scope": (
            PermissionDeniedError,
            "refused the request{account}: the key lacks the scope (403)",
        ),
        "RESOURCE_EXHAUSTED": (RateLimitedError, "is rate limiting requests{account}"),
        "resource_exhausted": (RateLimitedError, "is rate limiting requests{account}"),
        "rate_limit_exceeded": (RateLimitedError, "is rate limiting requests{account}"),
        "HTTP 429": (RateLimitedError, "is rate limiting requests{account}"),
        "INTERNAL": (ExchangeUnavailableError, "had an internal error{account}"),
        "internal_server_error": (ExchangeUnavailableError, "had an internal error{account}"),
        "UNAVAILABLE": (ExchangeUnavailableError, "is unavailable{account}"),
        "service_unavailable": (ExchangeUnavailableError, "is unavailable{account}"),
        "NOT_FOUND": (ExchangeUnsupportedError, "does not offer this{account}"),
        "not_found": (ExchangeUnsupportedError, "does not offer this{account}"),
        "INVALID_ARGUMENT": (ExchangeError, "refused a request parameter{account}"),
    },
    hints={
        "HTTP 401": _UNAUTHORIZED_HINT,
        "authentication_error": _UNAUTHORIZED_HINT,
        "invalid_token": _UNAUTHORIZED_HINT,
        "expired_token": _UNAUTHORIZED_HINT,
        "unauthorized": _UNAUTHORIZED_HINT,
        "revoked_token": "The key was deleted or revoked in the CDP portal: create a new "
        "View-only key and run `keyfolio account rotate NAME`.",
        "PERMISSION_DENIED": "The key lacks the 'View' scope. In the CDP portal edit the key "
        "(or create a new one) with only 'View' ticked, then `keyfolio account rotate NAME`.",
        "invalid_scope": "The key lacks the 'View' scope. In the CDP portal edit the key (or "
        "create a new one) with only 'View' ticked, then `keyfolio account rotate NAME`.",
        "RESOURCE_EXHAUSTED": "keyfolio waits until Coinbase's rate-limit window resets "
        "(x-ratelimit-reset) before sending again. Sync again in a moment.",
        "rate_limit_exceeded": "The Coinbase App API allows 10,000 requests an hour per key; "
        "keyfolio waits for the reset before sending again. Sync again later.",
    },
    multiline_secret=True,
)

_V3_PAGE = 250  # the largest page of /api/v3/brokerage/accounts
_V2_PAGE = 100  # the largest page of /v2 lists
_MAX_PAGES = 1000
_COUNTED_TYPES = frozenset({"ACCOUNT_TYPE_CRYPTO", "ACCOUNT_TYPE_FIAT", "ACCOUNT_TYPE_VAULT"})
_AHEAD_MS = 5_000  # a clock this far ahead signs JWTs Coinbase does not accept yet
_BEHIND_MS = 100_000  # this far behind, a 2-minute JWT is (nearly) expired when it arrives


def _rows(data: Any, field: str, what: str) -> list[Mapping[str, Any]]:
    rows = data.get(field) if isinstance(data, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise ExchangeResponseError(f"Coinbase {what}: expected a list of objects in {field!r}.")
    return list(rows)


def is_staked_wallet(row: Mapping[str, Any]) -> bool:
    """A legacy staking wallet (``Staked ADA``): a second wallet of the currency."""
    name = row.get("name")
    return isinstance(name, str) and name.startswith("Staked ")


def _currency(row: Mapping[str, Any]) -> Any:
    currency = row.get("currency")
    return currency.get("code") if isinstance(currency, Mapping) else currency


def _money(row: Mapping[str, Any], field: str) -> Any:
    value = row.get(field)
    return value.get("value", value.get("amount")) if isinstance(value, Mapping) else value


def wallet_amounts(rows: list[Mapping[str, Any]]) -> Amounts:
    """Every v3 wallet's ``available_balance + hold`` by currency; staking wallets and account
    types that are not wallets (perpetual futures) are left out."""
    amounts: Amounts = {}
    skipped: set[str] = set()
    for row in rows:
        kind = row.get("type")
        if is_staked_wallet(row) or kind not in _COUNTED_TYPES:
            if not is_staked_wallet(row):
                skipped.add(str(kind))
            continue
        for field in ("available_balance", "hold"):
            add_amount(amounts, _currency(row), _money(row, field) or "0", venue="Coinbase",
                       what="wallet balance")  # fmt: skip
    if skipped:
        logger.warning("Coinbase accounts of type %s are not counted", ", ".join(sorted(skipped)))
    return amounts


def staked_amounts(rows: list[Mapping[str, Any]]) -> Amounts:
    """The ``/v2/accounts`` wallets that hold staked coins: ``Staked <CODE>`` and ``ETH2``."""
    amounts: Amounts = {}
    for row in rows:
        code = _currency(row)
        if is_staked_wallet(row) or code == "ETH2":
            add_amount(amounts, code, _money(row, "balance"), venue="Coinbase",
                       what="staked balance")  # fmt: skip
    return amounts


def open_from_change(
    last: Decimal, percent: Decimal, increment: Decimal | None = None
) -> Decimal | None:
    """The price 24 h ago from the last price and Coinbase's 24 h change in percent, rounded to
    the book's price increment (the percent carries about 15 digits, so the open is recovered
    to that precision only)."""
    base = Decimal(100) + percent
    if base <= 0:
        return None
    quantum = increment if increment is not None and increment > 0 else Decimal("1e-12")
    quantum = Decimal(1).scaleb(min(quantum.adjusted(), -2))  # a power of ten, cents or finer
    return prorate(last, Decimal(100), base, quantum=quantum)


class CoinbaseConnector(VenueConnector):
    """A Coinbase account through a CDP key (Coinbase Exchange and International are others)."""

    venue: ClassVar[VenueInfo] = VENUE
    feeds: ClassVar[tuple[Feed, ...]] = (
        Feed(Source.TRADING, "_read_wallets"),
        Feed(Source.STAKED, "_read_staked"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secret: CdpSecret | None = None

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["enableRateLimit"] = False  # 429s are answered with the window's reset instead
        return config

    def _checked_secret(self) -> CdpSecret:
        """The private key in the form ccxt signs with, checked before any client exists: a key
        that is not a CDP private key, or that ccxt's signer refuses, fails here."""
        if self._secret is not None:
            return self._secret
        secret = cdp_secret(self._credentials.api_key, self._credentials.secret)
        if isinstance(secret, str):
            raise secret_error(secret, account=self.spec.name)
        from ccxt.base.exchange import Exchange

        eddsa = secret.alg == "EdDSA"
        key = Exchange.base64_to_binary(secret.for_ccxt) if eddsa else secret.for_ccxt.encode()
        try:  # what ccxt's create_auth_token does with the key, on a dummy claim
            Exchange.jwt({"sub": "keyfolio"}, key, "sha256", False, {"alg": secret.alg})
        except Exception as exc:  # cryptography's errors vary by key; any of them: unusable
            problem = f"ccxt cannot sign with it ({type(exc).__name__})"
            raise secret_error(problem, account=self.spec.name) from None
        self._secret = secret
        return secret

    @property
    def _has_key(self) -> bool:
        """False for the credential-less connector of public requests (tickers)."""
        return bool(self._credentials.api_key or self._credentials.secret)

    def _client(self) -> Any:
        if self._exchange is None and not self._closed and self._has_key:
            self._checked_secret()
        return super()._client()

    def _set_credentials(self, exchange: Any) -> None:
        if not self._has_key:
            return
        secret = self._checked_secret()
        exchange.apiKey = self._credentials.api_key.strip()
        exchange.secret = secret.for_ccxt
        if secret.alg == "EdDSA":  # ccxt's EdDSA path takes a base64 key (its 'v2 cloud' key)
            exchange.options["v2CloudAPiKey"] = True

    def _configure(self, exchange: Any) -> None:
        super()._configure(exchange)
        correction = self._clock_correction_ms / 1000
        if correction:  # ccxt signs its JWTs with seconds(), not with timeDifference
            exchange.seconds = lambda: int(time.time() + correction)

    async def load_markets(self) -> None:
        """Nothing to load: tickers and history are read from raw products and fills, so
        ccxt's markets (five requests, one of them private) are never needed."""
        self._markets_ready = True

    def _retry_after(self, exc: RateLimitedError) -> float | None:
        """``Retry-After``, else ``x-ratelimit-reset`` (a Unix second, or seconds from now)."""
        found = super()._retry_after(exc)
        if found is not None:
            return found
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        for name, value in dict(headers).items():
            if str(name).lower() == "x-ratelimit-reset":
                try:
                    reset = float(value)
                except (TypeError, ValueError):
                    return None
                return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)
        return None

    # ----------------------------------------------------------------- balances

    async def v3_accounts(self) -> list[Mapping[str, Any]]:
        """Every page of ``/api/v3/brokerage/accounts`` (``cursor`` while ``has_next``)."""
        rows: list[Mapping[str, Any]] = []
        params: dict[str, Any] = {"limit": _V3_PAGE}
        for _ in range(_MAX_PAGES):
            data = await self.call("v3PrivateGetBrokerageAccounts", dict(params), what="wallets")
            rows += _rows(data, "accounts", "wallets")
            cursor = data.get("cursor")
            if data.get("has_next") is not True or not cursor or cursor == params.get("cursor"):
                return rows
            params["cursor"] = cursor
        raise ExchangeResponseError("Coinbase wallets: the account list does not end.")

    async def v2_accounts(self) -> list[Mapping[str, Any]]:
        """Every page of ``/v2/accounts`` (``starting_after`` the last id of a page)."""
        rows: list[Mapping[str, Any]] = []
        params: dict[str, Any] = {"limit": _V2_PAGE}
        for _ in range(_MAX_PAGES):
            data = await self.call("v2PrivateGetAccounts", dict(params), what="accounts (v2)")
            rows += _rows(data, "data", "accounts (v2)")
            paging = data.get("pagination")
            after = paging.get("next_starting_after") if isinstance(paging, Mapping) else None
            if not after or after == params.get("starting_after"):
                return rows
            params["starting_after"] = after
        raise ExchangeResponseError("Coinbase accounts (v2): the account list does not end.")

    async def _read_wallets(self) -> Amounts:
        return wallet_amounts(await self.v3_accounts())

    async def _read_staked(self) -> Amounts:
        return staked_amounts(await self.v2_accounts())

    # ----------------------------------------------------------------- key and clock

    async def check_key(self) -> KeyInfo:
        """The key's scopes from ``key_permissions``; its portfolio is the account's uid.

        Coinbase does not report a key's IP allowlist: the binding is unknown."""
        try:
            data = await self.call("v3PrivateGetBrokerageKeyPermissions", what="key permissions")
        except ExchangeError as exc:
            raise await self._explained(exc) from exc
        if not isinstance(data, Mapping):
            raise ExchangeResponseError("Coinbase key permissions: expected an object.")
        flags = {name: value for name, value in data.items() if str(name).startswith("can_")}
        if not all(isinstance(value, bool) for value in flags.values()) or "can_view" not in flags:
            raise ExchangeResponseError(
                f"Coinbase sent key permissions keyfolio cannot read: {sorted(flags)}.",
                hint="Nothing was stored. Report it with the --debug output.",
            )
        return KeyInfo(
            permissions=frozenset(name for name, value in flags.items() if value),
            uid=str(data.get("portfolio_uuid") or ""),
            label=str(data.get("portfolio_type") or ""),
            verified=True,
            words=PERMISSION_WORDS,
            ip_reported=False,
        )

    async def _explained(self, exc: ExchangeError) -> ExchangeError:
        """A 401 with this machine's clock measured: a clock that is off is named as the cause;
        otherwise the 401 says the clock was checked."""
        if not (isinstance(exc, KeyRefusedError) and exc.exchange_code == "HTTP 401"):
            return await super()._explained(exc)
        try:
            offset = await self.clock_offset_ms()
        except ExchangeError:
            return exc
        seconds = abs(offset) / 1000
        direction = "ahead of" if offset < 0 else "behind"
        if offset <= -_AHEAD_MS or offset >= _BEHIND_MS:
            skew = ClockSkewError(
                f"Coinbase refused the request for account '{self.spec.name}' (401 "
                f"Unauthorized): this machine's clock is {seconds:.1f} s {direction} Coinbase, "
                "so its signed requests are not valid yet or have expired.",
                hint="Synchronise this machine's clock (e.g. `timedatectl set-ntp true`); "
                "Coinbase accepts a request for 2 minutes from the time it is signed.",
                exchange_code=exc.exchange_code,
            )
            skew.__cause__ = exc
            return skew
        checked = KeyRefusedError(
            exc.message,
            hint=f"{exc.hint} (This machine's clock is {seconds:.1f} s {direction} Coinbase: "
            "not the cause.)",
            exchange_code=exc.exchange_code,
        )
        checked.__cause__ = exc
        return checked

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """Advanced Trade fills, and the ledger of every wallet the account uses."""
        from keyfolio.exchanges.coinbase_history import coinbase_streams

        return await coinbase_streams(self, context)

    async def server_time_ms(self) -> int:
        data = await self.call("v3PublicGetBrokerageTime", what="server time")
        try:
            return int(data["epochMillis"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExchangeResponseError("Coinbase sent an unreadable server time.") from exc

    async def _spot_tickers(self) -> list[Ticker]:
        """Every spot product (one public request): ``price`` and the open derived from
        ``price_percentage_change_24h`` (Coinbase gives no 24 h open). A USDC book that is an
        alias of the USD book (``"alias": "BTC-USD"``) is the same book: left out, so a price
        names the real one."""
        data = await self.call("v3PublicGetBrokerageMarketProducts", what="spot tickers")
        now = int(time.time() * 1000)
        found: list[Ticker] = []
        for row in _rows(data, "products", "spot tickers"):
            base, quote = row.get("base_currency_id"), row.get("quote_currency_id")
            if row.get("product_type") != "SPOT" or not base or not quote or row.get("alias"):
                continue
            ticker = ticker_of("coinbase", f"{base}-{quote}", row.get("price"), None, now)
            if ticker is None:
                continue  # an empty price (a book without trades) or an unreadable one
            try:
                change = parse_decimal(str(row.get("price_percentage_change_24h") or "0"))
                increment = parse_decimal(str(row.get("price_increment") or "0"))
            except ValueError:
                found.append(ticker)
                continue
            opened = open_from_change(ticker.last, change, increment)
            found.append(Ticker(ticker.symbol, ticker.last, opened, ticker.ts, venue="coinbase"))
        return found
