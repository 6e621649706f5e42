"""`keyfolio doctor`: diagnose one account step by step, from the network up to the key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import KeyInfo
from keyfolio.errors import ClockSkewError, KeyfolioError, KeyNotInRegionError
from keyfolio.services.context import App, protect

__all__ = ["Check", "diagnose"]

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
    from keyfolio.exchanges.pool import ConnectorPool
    from keyfolio.services.accounts import refuse_manual

    with app.db().session(read_only=True) as store:
        spec = store.get_account(name=name)
    refuse_manual(spec, "check")
    credentials = app.vault().get(name)
    protect(credentials)
    checks: list[Check] = []
    async with ConnectorPool(app.settings) as pool:
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
        checks.append(_permission_check(key))
        if key.verified:
            checks.append(
                Check("ip binding", "ok", f"bound to {', '.join(key.ip_whitelist)}")
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


def _permission_check(key: KeyInfo) -> Check:
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
            "Create a Read-only key in API Management, rotate to it with "
            "`keyfolio account rotate NAME`, and delete this one.",
        )
    return Check("permissions", "ok", f"read-only ({listing})")


async def _probe_regions(
    app: App, spec: AccountSpec, credentials: Credentials, confirm_probe: ConfirmProbe
) -> list[Check]:
    from keyfolio.exchanges.pool import ConnectorPool

    if spec.api_url:
        return [Check("other regions", "warn", "not probed: the account uses --api-url")]
    others = [region for region in Region if region is not spec.region]
    question = (
        "The key does not exist in region "
        f"{spec.region.value}. Try it in {', '.join(r.value for r in others)}?"
    )
    if not confirm_probe(question):
        return [Check("other regions", "warn", "not probed (declined)")]
    checks = []
    async with ConnectorPool(app.settings) as pool:
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
                    f"`keyfolio account add okx --name {spec.name} --region {region.value}`.",
                )
            )
    return checks
