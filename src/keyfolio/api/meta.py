"""``/api/v1/health``, ``/api/v1/exchanges`` and ``/api/v1/vault`` (status and unlock)."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter

from keyfolio import __version__
from keyfolio.api.deps import ServerState, StateDep
from keyfolio.api.models import ExchangeOut, HealthOut, UnlockRequest, VaultOut
from keyfolio.errors import UsageError

__all__ = ["router"]

router = APIRouter(tags=["meta"])

_API_CREDENTIALS = {"apiKey": "api_key", "secret": "secret", "password": "passphrase"}


def _vault(state: ServerState) -> VaultOut:
    session = state.vault
    idle = session.idle_seconds
    return VaultOut(
        exists=session.exists,
        unlocked=session.unlocked,
        auto_unlock=session.auto_unlock,
        idle_minutes=idle / 60 if idle is not None else None,
    )


@router.get("/health", response_model=HealthOut)
def health(state: StateDep) -> HealthOut:
    """Liveness, version, vault state, and what keeps the data fresh (live, polling, locked)."""
    live = state.live
    return HealthOut(
        status="ok",
        version=__version__,
        vault=_vault(state),
        live=live.is_live,
        refresh=live.mode,
    )


@cache
def _exchanges() -> tuple[ExchangeOut, ...]:
    from keyfolio.exchanges.catalog import list_exchanges

    out = []
    for info in list_exchanges():
        if info.id in ("myokx", "okxus"):  # OKX's regions, chosen with "region"
            continue
        if not set(info.required_credentials) <= set(_API_CREDENTIALS):
            continue  # needs credentials the link form does not take
        out.append(
            ExchangeOut(
                id=info.id,
                name="OKX" if info.id == "okx" else info.name,
                regions=["global", "eea", "us"] if info.id == "okx" else ["global"],
                credentials=[_API_CREDENTIALS[name] for name in info.required_credentials],
            )
        )
    return tuple(out)


@router.get("/exchanges", response_model=list[ExchangeOut])
def exchanges() -> list[ExchangeOut]:
    """Exchanges the link form supports, OKX first."""
    return list(_exchanges())


@router.get("/vault", response_model=VaultOut)
def vault_status(state: StateDep) -> VaultOut:
    """Whether a vault exists and whether it is unlocked."""
    return _vault(state)


@router.post("/vault/unlock", response_model=VaultOut)
async def unlock(body: UnlockRequest, state: StateDep) -> VaultOut:
    """Unlock the vault (or, with no vault yet, set the password that will create it).

    It re-locks after ``idle_minutes`` without a use by the user (see ``GET /vault``).
    """
    password = body.password.get_secret_value()
    if not password.strip():
        raise UsageError("the vault password is blank", hint="Enter the vault password.")
    await state.vault.unlock(password)
    await state.live.restart()
    return _vault(state)
