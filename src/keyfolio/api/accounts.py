"""``/api/v1/accounts``: list with health per source, link, patch (import, move, rotate), remove.

Credentials arrive only in POST/PATCH bodies. They are registered with the log redaction
filter before anything else happens, handed to the services, and never echoed: the API shows
the key masked (``a1b2…e9f0``).
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import datetime

from fastapi import APIRouter, Query, Response, status

from keyfolio.api.deps import ServerState, StateDep
from keyfolio.api.models import (
    AccountCreate,
    AccountOut,
    AccountPatch,
    AccountSourceOut,
    CredentialsIn,
    LinkOut,
    LinkSourceOut,
    LinkSync,
)
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.records import SourceState
from keyfolio.errors import UsageError, VaultError
from keyfolio.services import accounts as accounts_service
from keyfolio.services.context import protect

__all__ = ["account_out", "mask_key", "router"]

router = APIRouter(tags=["accounts"])

_LOOPBACK_URL = re.compile(
    r"^https?://(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d{1,5})?/?$", re.IGNORECASE
)


def mask_key(key: str) -> str:
    """``a1b2…e9f0``: the first and last four characters (only the last two of a short key)."""
    if len(key) >= 12:
        return f"{key[:4]}…{key[-4:]}"
    return f"…{key[-2:]}" if len(key) >= 6 else "…"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _masked_keys(state: ServerState) -> dict[str, str]:
    """From the open vault; while it is locked, the masks seen when it was last open."""
    if state.vault.is_open and state.vault_exists:
        try:
            vault = state.app.vault()
            state.masked_keys = {name: mask_key(vault.get(name).api_key) for name in vault.names()}
        except VaultError:
            pass
    return state.masked_keys


def account_out(
    spec: AccountSpec, states: list[SourceState], key: str | None, stream: str | None = None
) -> AccountOut:
    """The API's account object."""
    return AccountOut(
        name=spec.name,
        exchange=spec.exchange,
        region=spec.region.value,
        portfolio=spec.portfolio,
        import_balance=spec.import_balance,
        demo=spec.demo,
        status=spec.status,
        last_sync=_iso(spec.last_sync),
        last_error=spec.last_error,
        last_hint=spec.last_hint,
        key=key,
        sources=[
            AccountSourceOut(
                source=s.source.value,
                status=s.status.value,
                error=s.error,
                hint=s.hint,
                last_ok_at=_iso(s.last_ok_at),
                updated_at=_iso(s.updated_at),
            )
            for s in states
        ],
        stream=stream,
    )


def _accounts(state: ServerState, *, portfolio: str | None, name: str | None) -> list[AccountOut]:
    app = state.ready()
    specs = (
        [accounts_service.get_account(app, name)]
        if name is not None
        else accounts_service.list_accounts(app, portfolio=portfolio)
    )
    with app.db().session(read_only=True) as store:
        if portfolio is not None:
            store.get_portfolio(name=portfolio)
        states = store.source_states(account=name)
    by_account: dict[str, list[SourceState]] = defaultdict(list)
    for source_state in states:
        by_account[source_state.account].append(source_state)
    keys = _masked_keys(state)
    streams = state.live.statuses
    locked = state.live.mode == "locked"
    return [
        account_out(
            spec,
            by_account[spec.name],
            keys.get(spec.name),
            "locked" if locked and not spec.is_manual else streams.get(spec.name),
        )
        for spec in specs
    ]


def _credentials(body: CredentialsIn, exchange: str) -> Credentials:
    """The services' Credentials, stripped and registered with the redaction filter."""
    fields: dict[str, str] = {}
    values = {"apiKey": body.api_key, "secret": body.secret, "password": body.passphrase}
    labels = {"apiKey": "API key", "secret": "Secret key", "password": "Passphrase"}
    for field, secret in values.items():
        value = secret.get_secret_value().strip() if secret is not None else ""
        if value:
            fields[field] = value
        elif field != "password" or exchange == "okx":
            raise UsageError(
                f"the {labels[field]} is empty",
                hint=f"Paste the {labels[field]} shown by the exchange"
                + (" (OKX may call the passphrase 'Password')." if field == "password" else "."),
            )
    credentials = Credentials(fields=fields)
    protect(credentials)
    return credentials


def _spec(body: AccountCreate) -> AccountSpec:
    """The same checks as `keyfolio account add` (one service), plus: the API only accepts a
    loopback ``api_url`` (the sandbox), so the server can never be made to call other hosts."""
    if body.api_url is not None and not _LOOPBACK_URL.fullmatch(body.api_url):
        raise UsageError(
            f"api_url {body.api_url!r} is not a loopback base URL",
            hint="api_url is for the built-in sandbox and tests: give the scheme, host and port "
            "only, e.g. http://127.0.0.1:8765. Use region for the real exchange (and "
            "KEYFOLIO_OKX_HOSTS__<REGION> for a proxy).",
        )
    return accounts_service.account_spec(
        exchange=body.exchange,
        name=body.name,
        region=Region(body.region),
        demo=body.demo,
        api_url=body.api_url,
        portfolio=body.portfolio,
        import_balance=body.import_balance,
    )


def _link_out(state: ServerState, report: accounts_service.LinkReport) -> LinkOut:
    (account,) = _accounts(state, portfolio=None, name=report.spec.name)
    key = report.key
    return LinkOut(
        account=account,
        permissions=sorted(key.permissions) if key.verified else [],
        verified=key.verified,
        notes=report.notes,
        warnings=report.warnings,
        sources=[
            LinkSourceOut(
                source=result.source.value,
                status=result.status.value,
                assets=len(result.amounts),
                error=result.error,
                hint=result.hint,
            )
            for result in report.results
        ],
        sync=LinkSync(status=report.status),
    )


def _updated(state: ServerState, portfolio: str, account: str | None, reason: str) -> None:
    state.app.bus.publish(
        "portfolio.updated", {"portfolio": portfolio, "account": account, "reason": reason}
    )


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(
    state: StateDep,
    portfolio: str | None = Query(default=None, min_length=1, max_length=64),
) -> list[AccountOut]:
    """Every account (or one portfolio's) with its health per source. Works while locked."""
    return _accounts(state, portfolio=portfolio, name=None)


@router.get("/accounts/{name}", response_model=AccountOut)
def get_account(name: str, state: StateDep) -> AccountOut:
    """One account."""
    (account,) = _accounts(state, portfolio=None, name=name)
    return account


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=LinkOut)
async def link_account(body: AccountCreate, state: StateDep) -> LinkOut:
    """Validate a read-only key like `keyfolio account add`, store it, import its balances."""
    spec = _spec(body)
    credentials = _credentials(body.credentials, spec.exchange)
    app = await asyncio.to_thread(state.ready)
    if await asyncio.to_thread(app.has_vault):
        await state.ensure_unlocked()  # Argon2 off the event loop; restarts the idle period
    report = await accounts_service.link_account(app, spec, credentials)
    state.vault.touch()
    _updated(state, spec.portfolio, spec.name, "linked")
    await state.live.restart()
    return await asyncio.to_thread(_link_out, state, report)


@router.patch("/accounts/{name}", response_model=AccountOut)
async def patch_account(name: str, body: AccountPatch, state: StateDep) -> AccountOut:
    """Switch Import Balance, move to another portfolio, and/or rotate the key."""
    app = await asyncio.to_thread(state.ready)
    spec = await asyncio.to_thread(accounts_service.get_account, app, name)
    touched = {spec.portfolio}
    if body.credentials is not None:
        credentials = _credentials(body.credentials, spec.exchange)
        await state.ensure_unlocked()
        await accounts_service.rotate_credentials(app, name, credentials)
    if body.portfolio is not None and body.portfolio != spec.portfolio:
        await asyncio.to_thread(accounts_service.move_account, app, name, body.portfolio)
        touched.add(body.portfolio)
    if body.import_balance is not None:
        await asyncio.to_thread(accounts_service.import_balance, app, name, body.import_balance)
    for portfolio in sorted(touched):
        _updated(state, portfolio, name, "account_changed")
    if body.credentials is not None:
        await state.live.restart()
    (account,) = await asyncio.to_thread(_accounts, state, portfolio=None, name=name)
    return account


@router.delete("/accounts/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def remove_account(name: str, state: StateDep) -> Response:
    """Forget an account and wipe its key from the vault (delete the key at the exchange too)."""
    app = await asyncio.to_thread(state.ready)
    if await asyncio.to_thread(app.has_vault):
        await state.ensure_unlocked()
    spec = await asyncio.to_thread(accounts_service.remove_account, app, name)
    _updated(state, spec.portfolio, name, "removed")
    await state.live.restart()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
