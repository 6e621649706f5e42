"""The sandbox state file: a pydantic model of what the fake OKX server holds at start.

Every amount and price is a JSON *string* (``"0.5"``), never a number, so that no binary
float ever touches money. A file that does not validate raises
:class:`keyfolio.errors.SandboxStateError` whose message names the file, the field and the
problem, one line per problem::

    state.json: accounts.alice.trading.BTC: amounts must be JSON strings such as "0.5", not numbers

The format is documented field by field in ``docs/sandbox/okx.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.fields import (
    Amount,
    Decimalish,
    IpList,
    NonEmpty,
    Perm,
    Price,
    StrictText,
)
from keyfolio.sandbox.core.state import CommonTicker, load_document, problems_of, state_error

__all__ = [
    "AccountState",
    "DepositState",
    "EarnState",
    "FillState",
    "KeyState",
    "SandboxState",
    "SavingsState",
    "TickerState",
    "WithdrawalState",
    "load_state",
    "parse_state",
]

logger = logging.getLogger(__name__)

REGIONS = ("global", "eea", "us")


def _timestamp(value: str) -> str:
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a Unix timestamp in milliseconds (digits only)")
    return value


TimestampMs = Annotated[StrictText, AfterValidator(_timestamp)]
Ccy = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,20}$")]
SpotInstId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$")]
Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,24}$")]
StateCode = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,3}$")]


def _savings_shorthand(value: object) -> object:
    """``"USDT": "500"`` is short for ``"USDT": {"amt": "500"}``."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"amt": value}
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


TickerState = CommonTicker
"""A SPOT ticker: the common one (``open24h`` defaults to ``last``; highs and lows derive)."""


class KeyState(_Model):
    """An API key as OKX would store it. The secret parts are hidden from ``repr``."""

    api_key: NonEmpty = Field(alias="apiKey", repr=False)
    secret: NonEmpty = Field(repr=False)
    passphrase: NonEmpty = Field(repr=False)
    perm: Perm
    account: NonEmpty
    region: Literal["global", "eea", "us"] = "global"
    demo: bool = Field(default=False, strict=True)
    ip: IpList = ""
    label: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def permissions(self) -> frozenset[str]:
        """The set of OKX permission words of this key."""
        return frozenset(self.perm.split(","))


class SavingsState(_Model):
    """A Simple Earn (flexible savings) position, when more than the amount is wanted."""

    amt: Amount
    earnings: Amount = "0"
    rate: Amount = "0.01"
    loan_amt: Amount | None = Field(default=None, alias="loanAmt")
    pending_amt: Amount = Field(default="0", alias="pendingAmt")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EarnState(_Model):
    """An On-chain Earn (staking / DeFi) order."""

    ccy: Ccy
    amt: Amount
    product_id: NonEmpty = Field(alias="productId")
    protocol: str = ""
    apy: Amount = "0"
    protocol_type: Literal["defi", "staking"] = Field(default="defi", alias="protocolType")
    state: Literal["1", "2", "8", "9", "13"] = "1"
    earnings: Amount = "0"
    earning_ccy: Ccy | None = Field(default=None, alias="earningCcy")
    ord_id: Digits | None = Field(default=None, alias="ordId")
    purchased_time: TimestampMs | None = Field(default=None, alias="purchasedTime")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FillState(_Model):
    """A past SPOT fill. Missing ids are generated deterministically from ``ts``."""

    inst_id: SpotInstId = Field(alias="instId")
    side: Literal["buy", "sell"]
    fill_px: Price = Field(alias="fillPx")
    fill_sz: Price = Field(alias="fillSz")
    fee: Decimalish = "0"
    fee_ccy: Ccy | None = Field(default=None, alias="feeCcy")
    ts: TimestampMs
    inst_type: Literal["SPOT"] = Field(default="SPOT", alias="instType")
    exec_type: Literal["T", "M"] = Field(default="T", alias="execType")
    bill_id: Digits | None = Field(default=None, alias="billId")
    trade_id: Digits | None = Field(default=None, alias="tradeId")
    ord_id: Digits | None = Field(default=None, alias="ordId")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DepositState(_Model):
    """A deposit record (funding account)."""

    ccy: Ccy
    amt: Price
    ts: TimestampMs
    chain: str | None = None
    tx_id: str | None = Field(default=None, alias="txId")
    state: StateCode = "2"
    dep_id: Digits | None = Field(default=None, alias="depId")
    from_: str = Field(default="", alias="from")
    to: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WithdrawalState(_Model):
    """A withdrawal record (funding account)."""

    ccy: Ccy
    amt: Price
    ts: TimestampMs
    chain: str | None = None
    tx_id: str | None = Field(default=None, alias="txId")
    fee: Amount = "0"
    fee_ccy: Ccy | None = Field(default=None, alias="feeCcy")
    state: StateCode = "2"
    wd_id: Digits | None = Field(default=None, alias="wdId")
    from_: str = Field(default="", alias="from")
    to: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AccountState(_Model):
    """One OKX (sub-)account: its balances in every source and its history."""

    uid: Digits | None = None
    trading: dict[Ccy, Amount] = Field(default_factory=dict)
    funding: dict[Ccy, Amount] = Field(default_factory=dict)
    savings: dict[Ccy, Annotated[SavingsState, BeforeValidator(_savings_shorthand)]] = Field(
        default_factory=dict
    )
    onchain_earn: list[EarnState] = Field(default_factory=list)
    eth_staking: Amount | None = None
    fills: list[FillState] = Field(default_factory=list)
    deposits: list[DepositState] = Field(default_factory=list)
    withdrawals: list[WithdrawalState] = Field(default_factory=list)


class SandboxState(_Model):
    """The whole state file: tickers, API keys and accounts. Unknown fields are refused."""

    tickers: dict[SpotInstId, TickerState] = Field(default_factory=dict)
    keys: list[KeyState] = Field(default_factory=list)
    accounts: dict[NonEmpty, AccountState] = Field(default_factory=dict)


def _cross_check(state: SandboxState) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, key in enumerate(state.keys):
        if key.account not in state.accounts:
            problems.append(
                (f"keys[{index}].account", f"account {key.account!r} is not defined in accounts")
            )
        if key.api_key in seen:
            problems.append((f"keys[{index}].apiKey", "duplicate apiKey"))
        seen.add(key.api_key)
    for name, account in state.accounts.items():
        bill_ids: set[str] = set()
        for index, fill in enumerate(account.fills):
            where = f"accounts.{name}.fills[{index}]"
            base, quote = fill.inst_id.split("-")
            if fill.fee_ccy is not None and fill.fee_ccy not in (base, quote):
                problems.append((f"{where}.feeCcy", f"must be {base} or {quote}"))
            if fill.bill_id is not None:
                if fill.bill_id in bill_ids:
                    problems.append((f"{where}.billId", "duplicate billId"))
                bill_ids.add(fill.bill_id)
    return problems


def parse_state(data: dict[str, Any], *, origin: str = "<state>") -> SandboxState:
    """Validate an already-decoded state document.

    Raises :class:`SandboxStateError` naming ``origin``, the field and the problem.
    """
    if not isinstance(data, dict):
        raise SandboxStateError(f"{origin}: (top level): must be a JSON object")
    try:
        state = SandboxState.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
    else:
        problems = _cross_check(state)
        if not problems:
            return state
    raise state_error(origin, problems)


def load_state(path: Path) -> SandboxState:
    """Read and validate a JSON state file. Raises :class:`SandboxStateError` (exit code 2)."""
    state = parse_state(load_document(path), origin=str(path))
    logger.debug("loaded sandbox state %s", path)
    return state
