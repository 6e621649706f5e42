"""Request and response models of the JSON API (``/api/v1``).

Amounts, prices and values are decimal strings (never JSON numbers); times are ISO-8601 UTC
strings ending in ``Z``. Response models are typed all the way down: no ``Any``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "AccountCreate",
    "AccountOut",
    "AccountPatch",
    "AccountSourceOut",
    "Change",
    "CredentialsIn",
    "ErrorOut",
    "ExchangeOut",
    "HealthOut",
    "LinkOut",
    "LinkSourceOut",
    "LinkSync",
    "LotOut",
    "LotsOut",
    "Mover",
    "PnlAsset",
    "PnlFlag",
    "PnlOut",
    "PortfolioCreate",
    "PortfolioOut",
    "PortfolioRename",
    "ReconcileAccount",
    "ReconcileAsset",
    "ReconcileOut",
    "RefusedOut",
    "SummaryAccount",
    "SummaryHolding",
    "SummaryOut",
    "SummarySource",
    "SummarySourceAmount",
    "SyncRequest",
    "TaskAccount",
    "TaskOut",
    "TaskProgress",
    "TaskRef",
    "UnlockRequest",
    "ValuePointOut",
    "ValueSeriesOut",
    "VaultOut",
]

Name = str
DecimalStr = str
"""A decimal number as a string, e.g. ``"0.5"``."""
Timestamp = str
"""ISO-8601 UTC, e.g. ``"2026-01-31T12:00:00Z"``."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    """Every non-2xx answer."""

    error: str = Field(description="machine-readable code, e.g. not_found, wrong_passphrase")
    message: str
    hint: str


# -- vault, health, exchanges ----------------------------------------------------------------


class VaultOut(_Out):
    exists: bool
    unlocked: bool
    """Usable without asking for the password (open, or re-openable from KEYFOLIO_PASSWORD)."""
    auto_unlock: bool
    """KEYFOLIO_PASSWORD is set (and not found wrong): the server re-opens the vault itself."""
    idle_minutes: float | None
    """The vault re-locks after this many minutes without a use by the user; null: never."""


class UnlockRequest(_In):
    password: SecretStr = Field(min_length=1, max_length=1024)


class HealthOut(_Out):
    status: Literal["ok"]
    version: str
    vault: VaultOut
    live: bool
    refresh: Literal["live", "polling", "locked", "hosted", "off"]
    """What keeps the data fresh: the live engine, a polling sync, nothing while the vault is
    locked, hosted mode's workers (their events reach this server through Redis), or nothing
    yet (before start-up)."""


class ExchangeOut(_Out):
    id: str
    name: str
    regions: list[str]
    credentials: list[str]
    labels: dict[str, str] = {}
    """Each credential as the venue's website names it (``secret``: "Secret Key")."""
    first_class: bool = False
    sources: list[str] = []
    key_guide: str = ""
    """Where in the venue's API management a read-only key is created."""
    multiline_secret: bool = False


# -- portfolios and the summary --------------------------------------------------------------


class PortfolioOut(_Out):
    name: Name
    accounts: int | None = None
    total_value: DecimalStr | None = None


class PortfolioCreate(_In):
    name: Name = Field(min_length=1, max_length=64)


class PortfolioRename(_In):
    name: Name = Field(min_length=1, max_length=64)


class SummarySourceAmount(_Out):
    account: str
    source: str
    amount: DecimalStr | None


class SummaryHolding(_Out):
    asset: str
    amount: DecimalStr | None
    price: DecimalStr | None
    price_source: str | None = None
    """Where the price came from: ``binance:BTC-USDT``, ``okx:ABC-BTC*BTC-USDT``,
    ``okx:USDC-USDT*USDT-USD``, ``usd``, or ``par`` (a stablecoin assumed 1:1: no market)."""
    price_as_of: Timestamp | None = None
    """The price's time: its oldest ticker's own time (the time of pricing for usd and par)."""
    price_stale: bool = False
    """The price is older than ``KEYFOLIO_PRICE_MAX_AGE_MINUTES``."""
    value: DecimalStr | None
    sources: list[SummarySourceAmount]
    change_24h_pct: DecimalStr | None = None
    change_24h_basis: str | None = None
    """``24h`` (against the price 24 hours ago) or ``utc_day`` (today's open at 00:00 UTC)."""
    stale: bool = False


class SummarySource(_Out):
    source: str
    status: str
    error: str | None
    hint: str | None


class SummaryAccount(_Out):
    name: str
    exchange: str
    region: str
    import_balance: bool
    status: str
    last_sync: Timestamp | None
    sources: list[SummarySource]


class Change(_Out):
    value: DecimalStr | None
    pct: DecimalStr | None
    basis: str


class Mover(_Out):
    asset: str
    change_pct: DecimalStr | None
    value: DecimalStr | None
    window: str
    basis: str | None = None


class RefusedOut(_Out):
    """A stored value outside the money bounds (docs/money.md), left out of every figure."""

    where: str = Field(description="what holds it, e.g. 'trading balance', 'trade T1', 'price'")
    account: str | None
    asset: str | None
    field: str = Field(description="amount, price, fee or value")
    value: str = Field(description="the stored number as text, e.g. 1E+30")
    reason: str
    message: str
    hint: str


class SummaryOut(_Out):
    """Exactly the `keyfolio show --json` document (fields it lacks are left out)."""

    portfolio: str
    currency: str
    as_of: Timestamp | None
    total_value: DecimalStr | None
    unpriced: list[str]
    stale_prices: list[str] | None = None
    holdings: list[SummaryHolding]
    accounts: list[SummaryAccount]
    change: dict[str, Change] | None = None
    top_gainers: list[Mover] | None = None
    top_losers: list[Mover] | None = None
    refused: list[RefusedOut] | None = None


# -- accounts -------------------------------------------------------------------------------


class AccountSourceOut(_Out):
    source: str
    status: str
    error: str | None
    hint: str | None
    last_ok_at: Timestamp | None
    updated_at: Timestamp | None


class AccountOut(_Out):
    name: str
    exchange: str
    region: str
    portfolio: str
    import_balance: bool
    demo: bool
    status: str
    last_sync: Timestamp | None
    last_error: str | None
    last_hint: str | None
    key: str | None = Field(description="the API key, masked (first 4 + '…' + last 4)")
    sources: list[AccountSourceOut]
    stream: str | None = Field(
        default=None,
        description="the live engine's state: live, reconnecting, polling, failed (null: not live)",
    )


class CredentialsIn(_In):
    """The exchange credentials; they are never echoed, logged or stored outside the vault."""

    api_key: SecretStr = Field(min_length=1, max_length=512)
    secret: SecretStr = Field(min_length=1, max_length=512)
    passphrase: SecretStr | None = Field(default=None, max_length=512)


class AccountCreate(_In):
    exchange: str = Field(default="okx", min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    region: Literal["global", "eea", "us"] = "global"
    portfolio: str = Field(default="main", min_length=1, max_length=64)
    import_balance: bool = True
    api_url: str | None = Field(
        default=None,
        max_length=256,
        description="a loopback base URL such as http://127.0.0.1:8765 (the sandbox, tests)",
    )
    demo: bool = False
    credentials: CredentialsIn


class AccountPatch(_In):
    import_balance: bool | None = None
    portfolio: str | None = Field(default=None, min_length=1, max_length=64)
    credentials: CredentialsIn | None = None


class LinkSourceOut(_Out):
    source: str
    status: str
    assets: int
    error: str | None
    hint: str | None


class LinkSync(_Out):
    status: str


class LinkOut(_Out):
    """What linking (or rotating) found: permissions, notes and the first import."""

    account: AccountOut
    permissions: list[str]
    verified: bool
    notes: list[str]
    warnings: list[str]
    sources: list[LinkSourceOut]
    sync: LinkSync


# -- sync and tasks -------------------------------------------------------------------------


class SyncRequest(_In):
    accounts: list[str] | None = Field(default=None, max_length=1000)


class TaskRef(_Out):
    task: str


class TaskProgress(_Out):
    done: int
    total: int


class TaskAccount(_Out):
    account: str
    status: str
    error: str | None = None
    hint: str | None = None


class TaskOut(_Out):
    id: str
    kind: Literal["sync"]
    state: Literal["running", "done", "failed"]
    progress: TaskProgress
    accounts: list[TaskAccount]
    error: ErrorOut | None


# -- analytics ------------------------------------------------------------------------------


class ValuePointOut(_Out):
    at: Timestamp
    value: DecimalStr
    amount: DecimalStr | None = Field(default=None, description="the asset's amount (asset=)")


class ValueSeriesOut(_Out):
    """The `keyfolio history --json` document (fields it lacks are left out)."""

    portfolio: str
    window: str
    currency: str
    start: Timestamp | None = None
    end: Timestamp | None = None
    account: str | None = None
    asset: str | None = None
    points: list[ValuePointOut]
    refused: list[RefusedOut] | None = None


class PnlAsset(_Out):
    asset: str
    amount: DecimalStr | None
    cost_basis: DecimalStr | None
    realized: DecimalStr | None
    unrealized: DecimalStr | None
    fees: DecimalStr | None
    unknown_basis_amount: DecimalStr | None
    price: DecimalStr | None = None
    value: DecimalStr | None = None
    unknown_basis_sold: DecimalStr | None = None
    unknown_basis_proceeds: DecimalStr | None = None
    flagged: bool | None = None


class PnlFlag(_Out):
    kind: str
    asset: str | None = None
    amount: DecimalStr | None = None
    count: int | None = None
    message: str
    see: str | None = Field(
        default=None,
        description="where the cause is shown: 'keyfolio reconcile' (GET /api/v1/reconcile) "
        "for amounts whose basis the imported history does not explain",
    )


class PnlRank(_Out):
    """A held position ranked by its unrealized P/L (USD), worth at least 1 USD."""

    asset: str
    pnl: DecimalStr | None
    pct: DecimalStr | None
    value: DecimalStr | None


class PnlOut(_Out):
    """The `keyfolio pnl --json` document (fields it lacks are left out)."""

    method: str
    currency: str
    assets: list[PnlAsset]
    total_realized: DecimalStr | None
    total_unrealized: DecimalStr | None
    flags: list[PnlFlag] | None = None
    notes: list[str] | None = None
    top_pnl_gainers: list[PnlRank] | None = None
    top_pnl_losers: list[PnlRank] | None = None
    refused: list[RefusedOut] | None = None


class LotOut(_Out):
    """Part of one lot given up by one disposal (USD; null: unknown)."""

    asset: str
    account: str
    disposed_at: Timestamp
    acquired_at: Timestamp | None
    amount: DecimalStr
    cost: DecimalStr | None
    proceeds: DecimalStr | None
    fee: DecimalStr | None
    gain: DecimalStr | None
    holding_days: int | None


class LotsOut(_Out):
    """The `keyfolio pnl --lots --json` document; ``total_gain`` is the realized P/L."""

    method: str
    currency: str
    lots: list[LotOut]
    total_gain: DecimalStr | None


class ReconcileAsset(_Out):
    asset: str
    reported: DecimalStr
    implied: DecimalStr
    difference: DecimalStr
    cause: (
        Literal[
            "no_history",
            "history_before_window",
            "unparsed_bill_type",
            "earn_interest",
            "missing_outflow",
        ]
        | None
    ) = Field(description="the likely cause of a difference; null when there is none")


class ReconcileAccount(_Out):
    account: str
    assets: list[ReconcileAsset]


class ReconcileOut(_Out):
    """The `keyfolio reconcile --json` document."""

    accounts: list[ReconcileAccount]
