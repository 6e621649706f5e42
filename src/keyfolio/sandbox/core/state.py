"""The sandbox state file of every venue: the common format, and loading with the venue's rules.

One JSON file per sandbox process. ``"exchange"`` picks the venue (absent means ``okx``, whose own
format stays valid unchanged). The common format, used by every other venue::

    {"exchange": "binance",
     "tickers": {"BTC-USDT": {"last": "60000", "open24h": "58000"}},
     "keys": [{"apiKey": "…", "secret": "…", "perm": "read_only", "account": "alice"}],
     "accounts": {"alice": {
         "<source>": {"<ASSET>": "amount"},
         "fills": [{"id": "1", "symbol": "BTC-USDT", "side": "buy", "price": "40000",
                    "amount": "0.5", "fee": "20", "feeAsset": "USDT", "ts": 1700000000000}],
         "deposits": [{"id": "d1", "asset": "ETH", "amount": "2", "txid": "0xabc",
                       "ts": 1700000000000}],
         "withdrawals": [{"id": "w1", "asset": "USDT", "amount": "100", "fee": "1",
                          "txid": "0xdef", "ts": 1700000000000}]}}}

A file that does not validate raises :class:`~keyfolio.errors.SandboxStateError` naming the file,
the field and the problem, one line per problem::

    state.json: accounts.alice.spotz: unknown source; binance has spot, funding, earn_flexible, …
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.fields import (
    Amount,
    AssetCode,
    Decimalish,
    EpochMs,
    IpList,
    NonEmpty,
    Perm,
    Price,
    Symbol,
)

__all__ = [
    "CommonAccount",
    "CommonFill",
    "CommonKey",
    "CommonState",
    "CommonTicker",
    "CommonTransfer",
    "StateRules",
    "load_document",
    "parse_common",
    "problems_of",
    "state_error",
]

logger = logging.getLogger(__name__)


UidText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,24}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CommonTicker(_Model):
    """A spot ticker. ``open24h`` defaults to ``last``; highs and lows derive from both."""

    last: Price
    open24h: Price | None = None
    high24h: Price | None = None
    low24h: Price | None = None
    vol24h: Amount | None = None


class CommonKey(_Model):
    """An API key in the common vocabulary. ``ip`` non-empty binds the key to those addresses."""

    api_key: NonEmpty = Field(alias="apiKey", repr=False)
    secret: NonEmpty = Field(repr=False)
    passphrase: str | None = Field(default=None, repr=False)
    perm: Perm
    account: NonEmpty
    ip: IpList = ""
    label: str = ""

    @property
    def permissions(self) -> frozenset[str]:
        """The common permission words of this key."""
        return frozenset(self.perm.split(","))


class CommonFill(_Model):
    """A past spot fill; ``fee`` is a positive amount paid in ``feeAsset`` (negative: a rebate)."""

    id: NonEmpty | None = None
    symbol: Symbol
    side: Literal["buy", "sell"]
    price: Price
    amount: Price
    fee: Decimalish = "0"
    fee_asset: AssetCode | None = Field(default=None, alias="feeAsset")
    ts: EpochMs
    maker: bool = False


class CommonTransfer(_Model):
    """A deposit or a withdrawal; ``fee`` is paid on top of ``amount`` (withdrawals)."""

    id: NonEmpty | None = None
    asset: AssetCode
    amount: Price
    fee: Amount = "0"
    txid: str | None = None
    ts: EpochMs
    status: Literal["ok", "pending", "failed"] = "ok"
    network: str | None = None
    address: str = ""


class CommonAccount(BaseModel):
    """One account: a ``{ASSET: amount}`` map per source (the venue names its sources) and history.

    The source maps are extra fields, checked against the venue's :class:`StateRules`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    uid: UidText | None = None
    fills: list[CommonFill] = Field(default_factory=list)
    deposits: list[CommonTransfer] = Field(default_factory=list)
    withdrawals: list[CommonTransfer] = Field(default_factory=list)

    def maps(self) -> dict[str, dict[str, str]]:
        """Every source map of this account (extra fields), as validated."""
        return dict(self.model_extra or {})


class CommonState(_Model):
    """The whole state file of a venue in the common format."""

    exchange: str
    tickers: dict[Symbol, CommonTicker] = Field(default_factory=dict)
    keys: list[CommonKey] = Field(default_factory=list)
    accounts: dict[NonEmpty, CommonAccount] = Field(default_factory=dict)


class StateRules(Protocol):
    """What a venue tells the loader about its state: sources, optional maps, key checks."""

    id: ClassVar[str]
    sources: ClassVar[tuple[str, ...]]
    optional_maps: ClassVar[tuple[str, ...]]
    has_passphrase: ClassVar[bool]

    def check_key(self, key: CommonKey) -> str | None:
        """A problem with this key's credential format (e.g. a secret that is not base64)."""
        ...


# -- problems -------------------------------------------------------------------------------

_VALUE_ERROR = re.compile(r"^(Value|Assertion) error, ")
_PATTERNS = {
    r"^[A-Z0-9]{1,20}$": "currency codes are 1-20 upper-case letters or digits, e.g. BTC",
    r"^[A-Z0-9][A-Z0-9.]{0,19}$": "asset codes are upper-case letters, digits and '.', e.g. BTC",
    r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$": "instrument ids look like BASE-QUOTE, e.g. BTC-USDT",
    r"^[0-9]{1,24}$": "ids are strings of digits",
    r"^-?[0-9]{1,3}$": 'OKX state codes are short digit strings such as "2"',
}


def _loc(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, problem) for every error of a pydantic validation."""
    found: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = _VALUE_ERROR.sub("", error["msg"])
        if error["type"] == "string_pattern_mismatch":
            pattern = str((error.get("ctx") or {}).get("pattern", ""))
            message = _PATTERNS.get(pattern, message)
        if "[key]" in error["loc"]:
            message = f"invalid key: {message}"
        found.append((_loc(loc), message))
    return found


def state_error(origin: str, problems: list[tuple[str, str]]) -> SandboxStateError:
    """One SandboxStateError listing every problem as ``origin: field: problem``."""
    return SandboxStateError("\n".join(f"{origin}: {where}: {what}" for where, what in problems))


# -- the common format ----------------------------------------------------------------------


def _check_maps(name: str, account: CommonAccount, rules: StateRules) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    allowed = (*rules.sources, *rules.optional_maps)
    for source, raw in account.maps().items():
        where = f"accounts.{name}.{source}"
        if source not in allowed:
            problems.append(
                (where, f"unknown source; {rules.id} has {', '.join(allowed)} (and uid, fills, "
                 "deposits, withdrawals)")
            )  # fmt: skip
            continue
        if not isinstance(raw, Mapping):
            problems.append((where, 'expected an object such as {"BTC": "0.5"}'))
            continue
        try:
            _MapModel.model_validate({"amounts": raw})
        except ValidationError as exc:
            problems += [(where + w.removeprefix("amounts"), p) for w, p in problems_of(exc)]
    return problems


class _MapModel(_Model):
    amounts: dict[AssetCode, Amount]


def _cross_check(state: CommonState, rules: StateRules) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, key in enumerate(state.keys):
        where = f"keys[{index}]"
        if key.account not in state.accounts:
            problems.append((f"{where}.account", f"account {key.account!r} is not defined"))
        if key.api_key in seen:
            problems.append((f"{where}.apiKey", "duplicate apiKey"))
        seen.add(key.api_key)
        if key.passphrase is not None and not rules.has_passphrase:
            problems.append((f"{where}.passphrase", f"{rules.id} keys have no passphrase"))
        problem = rules.check_key(key)
        if problem:
            problems.append((where, problem))
    for name, account in state.accounts.items():
        problems += _check_maps(name, account, rules)
        for index, fill in enumerate(account.fills):
            base, quote = fill.symbol.split("-")
            if fill.fee_asset is not None and fill.fee_asset not in (base, quote):
                where = f"accounts.{name}.fills[{index}].feeAsset"
                problems.append((where, f"must be {base} or {quote}"))
    return problems


def parse_common(data: dict[str, Any], rules: StateRules, *, origin: str) -> CommonState:
    """Validate a common-format document for the venue ``rules`` describes."""
    try:
        state = CommonState.model_validate(data)
    except ValidationError as exc:
        raise state_error(origin, problems_of(exc)) from None
    problems = _cross_check(state, rules)
    if problems:
        raise state_error(origin, problems)
    return state


def load_document(path: Path) -> dict[str, Any]:
    """Read a JSON state file; SandboxStateError naming the file for I/O and syntax errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxStateError(
            f"{path}: cannot read the state file: {exc.strerror or exc}",
            hint="Check the --state path.",
        ) from None
    except UnicodeDecodeError:
        raise SandboxStateError(f"{path}: (file): not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SandboxStateError(
            f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise SandboxStateError(f"{path}: (top level): must be a JSON object")
    logger.debug("read sandbox state %s", path)
    return data
