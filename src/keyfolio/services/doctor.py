"""`keyfolio doctor`: diagnose one account step by step, from the network up to the key;
and check that the vault and the database agree (a key left without its account)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import KeyInfo
from keyfolio.errors import (
    ClockSkewError,
    ConflictError,
    KeyfolioError,
    KeyNotInRegionError,
    NotFoundError,
)
from keyfolio.services.context import App, protect

__all__ = ["Check", "diagnose", "orphan_keys", "remove_orphan_keys", "vault_checks"]

ConfirmProbe = Callable[[str], bool]


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis: ``status`` is ``ok``, ``warn`` or ``fail``."""

    name: str
    status: str
    detail: str
    hint: str | None = None


CLOCK_WARN_MS = 5_000
CLOCK_FAIL_MS = 30_000


async def diagnose(app: App, name: str, *, confirm_probe: ConfirmProbe) -> list[Check]:
    """Run every check for one account. Stops at the first check that makes the rest moot."""
    from keyfolio.services.accounts import refuse_manual
    from keyfolio.services.assets import connector_pool

    with app.db().session(read_only=True) as store:
        spec = store.get_account(name=name)
    refuse_manual(spec, "check")
    credentials = app.vault().get(name)
    protect(credentials)
    checks: list[Check] = []
    async with connector_pool(app) as pool:
        connector = pool.connector(spec, credentials)
        host = spec.api_url or spec.region.value
        reach = await _run("reachability", connector.ping)
        if reach is not None:
            return [reach]
        checks.append(Check("reachability", "ok", f"the exchange answers ({host})"))
        try:
            checks.append(_clock_check(await connector.clock_offset_ms()))
        except KeyfolioError as exc:
            checks.append(Check("clock", "warn", f"not measured: {exc.message}"))
        try:
            key = await connector.check_key()
        except KeyNotInRegionError as exc:
            checks.append(Check("key", "fail", exc.message, exc.hint))
            checks.extend(await _probe_regions(app, spec, credentials, confirm_probe))
            return checks
        except KeyfolioError as exc:
            checks.append(Check("key", "fail", exc.message, exc.hint))
            return checks
        checks.append(Check("key", "ok", f"the key is valid (uid {key.uid or 'unknown'})"))
        checks.append(_permission_check(key, _key_guide(spec.exchange)))
        if key.verified and not key.ip_reported:
            checks.append(
                Check(
                    "ip binding",
                    "warn",
                    "not reported by the exchange: unknown",
                    "If the key has no IP allowlist, add this machine's public IP to it.",
                )
            )
        elif key.verified:
            bound = ", ".join(key.ip_whitelist) or "the addresses set in API Management"
            checks.append(
                Check("ip binding", "ok", f"bound to {bound}")
                if key.is_ip_bound
                else Check(
                    "ip binding",
                    "warn",
                    "the key is not bound to an IP address",
                    "Bind it to this machine's public IP in API Management.",
                )
            )
    return checks


async def _run(name: str, call: Callable[[], Awaitable[None]]) -> Check | None:
    try:
        await call()
    except KeyfolioError as exc:
        return Check(name, "fail", exc.message, exc.hint)
    return None


def _clock_check(offset_ms: int) -> Check:
    seconds = abs(offset_ms) / 1000
    direction = "behind" if offset_ms > 0 else "ahead of"
    detail = f"this machine's clock is {seconds:.1f} s {direction} the exchange"
    if abs(offset_ms) >= CLOCK_FAIL_MS:
        return Check("clock", "fail", detail, ClockSkewError.default_hint)
    if abs(offset_ms) >= CLOCK_WARN_MS:
        return Check("clock", "warn", detail, ClockSkewError.default_hint)
    return Check("clock", "ok", detail)


def _key_guide(exchange: str) -> str:
    from keyfolio.exchanges.venues import venue_info

    venue = venue_info(exchange)
    return venue.key_guide if venue is not None else "Create a read-only key on the exchange."


def _permission_check(key: KeyInfo, guide: str) -> Check:
    if not key.verified:
        return Check(
            "permissions",
            "warn",
            "this exchange offers no permission check",
            "Make sure the key was created with read permissions only.",
        )
    listing = ", ".join(sorted(key.permissions)) or "none"
    if not key.is_read_only:
        assert key.words is not None  # a verified KeyInfo carries them
        words = key.words
        beyond = ", ".join(words.describe(word) for word in sorted(key.refused_permissions))
        return Check(
            "permissions",
            "fail",
            f"the key can do more than read: {beyond or 'no permissions reported'} ({listing})",
            f"{guide} Rotate to it with `keyfolio account rotate NAME`, and delete this one.",
        )
    if key.warnings:
        return Check("permissions", "warn", f"read-only ({listing}); " + " ".join(key.warnings))
    return Check("permissions", "ok", f"read-only ({listing})")


async def _probe_regions(
    app: App, spec: AccountSpec, credentials: Credentials, confirm_probe: ConfirmProbe
) -> list[Check]:
    from keyfolio.exchanges.venues import venue_info
    from keyfolio.services.assets import connector_pool

    venue = venue_info(spec.exchange)
    regions = venue.regions if venue is not None else (Region.GLOBAL,)
    others = [region for region in regions if region is not spec.region]
    if not others:
        return []  # the venue has one host for every key
    if spec.api_url:
        return [Check("other regions", "warn", "not probed: the account uses --api-url")]
    question = (
        "The key does not exist in region "
        f"{spec.region.value}. Try it in {', '.join(r.value for r in others)}?"
    )
    if not confirm_probe(question):
        return [Check("other regions", "warn", "not probed (declined)")]
    checks = []
    async with connector_pool(app) as pool:
        for region in others:
            connector = pool.connector(replace(spec, region=region), credentials)
            try:
                await connector.check_key()
            except KeyfolioError as exc:
                checks.append(Check(f"region {region.value}", "fail", exc.message))
                continue
            checks.append(
                Check(
                    f"region {region.value}",
                    "ok",
                    "the key works in this region",
                    f"Re-link the account with --region {region.value}: "
                    f"`keyfolio account remove {spec.name}` then "
                    f"`keyfolio account add {spec.exchange} --name {spec.name} "
                    f"--region {region.value}`.",
                )
            )
    return checks


# -- the vault against the database ------------------------------------------------------------


def orphan_keys(app: App) -> list[str]:
    """Names the vault holds a key for while no account has that name (sorted).

    Such a key is what a removal interrupted between its two steps leaves behind (the account's
    rows are deleted first, then its key). Empty when there is no vault yet.
    """
    if not app.has_vault():
        return []
    vault = app.vault()
    vault.refresh()
    with app.db().session(read_only=True) as store:
        accounts = {spec.name for spec in store.list_accounts()}
    return [name for name in vault.names() if name not in accounts]


def remove_orphan_keys(app: App, names: list[str]) -> list[str]:
    """Delete the keys of ``names`` that still have no account; returns those removed.

    Each name is locked (:func:`keyfolio.services.accounts.account_lock`) and checked again
    first, so a key that a link in progress has just stored is never taken.
    """
    from keyfolio.services.accounts import account_lock

    removed = []
    vault = app.vault()
    for name in names:
        try:
            with account_lock(app, name):
                with app.db().session(read_only=True) as store:
                    try:
                        store.get_account(name=name)
                        continue  # linked again meanwhile: its key is not an orphan now
                    except NotFoundError:
                        pass
                vault.delete(name)
        except (ConflictError, NotFoundError):
            continue  # being linked right now, or already gone
        removed.append(name)
    return removed


def vault_checks(orphans: list[str], removed: list[str]) -> list[Check]:
    """The lines of doctor's vault table, before or after cleaning."""
    checks = [
        Check(
            "leftover key",
            "ok",
            f"removed the key of '{name}' from the vault (it had no account)",
        )
        for name in removed
    ]
    checks += [
        Check(
            "leftover key",
            "fail",
            f"the vault holds a key for '{name}', but no account has that name (left by an "
            "interrupted removal)",
            "Run `keyfolio doctor --fix` to delete it from the vault; then delete the key at "
            "the exchange too if you no longer use it.",
        )
        for name in orphans
        if name not in removed
    ]
    return checks or [Check("keys", "ok", "every key in the vault belongs to an account")]
