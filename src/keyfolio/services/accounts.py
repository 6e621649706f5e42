"""Linking, rotating and removing exchange accounts."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import KeyInfo, SourceResult
from keyfolio.errors import (
    ConflictError,
    ExchangeError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    KeyfolioError,
    NotFoundError,
    RateLimitedError,
    UnsafeKeyError,
    UsageError,
    VaultError,
)
from keyfolio.services.context import App, protect
from keyfolio.services.imports import describe_counts, import_history, mark_checked
from keyfolio.services.pricing import refresh_prices
from keyfolio.services.snapshots import record_snapshots

if TYPE_CHECKING:
    from keyfolio.exchanges.venue import VenueInfo
    from keyfolio.storage import Store

__all__ = [
    "LinkReport",
    "account_lock",
    "credential_fields",
    "get_account",
    "import_balance",
    "link_account",
    "list_accounts",
    "move_account",
    "refuse_unless_read_only",
    "remove_account",
    "rotate_credentials",
    "secret_is_multiline",
    "validate",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkReport:
    """What linking (or rotating) found."""

    spec: AccountSpec
    key: KeyInfo
    results: list[SourceResult]
    status: str
    warnings: list[str] = field(default_factory=list)
    history_new: dict[str, int] = field(default_factory=dict)
    history_progress: list[str] = field(default_factory=list)
    """How far the streams that go on at later syncs have come (OKX's archives)."""

    @property
    def notes(self) -> list[str]:
        """Facts worth showing that are not warnings (e.g. the key's IP binding)."""
        notes = []
        if self.key.verified and self.key.is_ip_bound:
            where = ", ".join(self.key.ip_whitelist) or "the addresses set in API Management"
            notes.append(f"The key is bound to IP {where}: good.")
        imported = describe_counts(self.history_new)
        if imported:
            notes.append(f"History imported: {imported}.")
        notes += [f"{note}; it goes on at the next sync." for note in self.history_progress]
        return notes


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_BASE_URL = re.compile(r"https?://[^\s/?#]+/?")


def _venue(exchange: str) -> VenueInfo | None:
    from keyfolio.exchanges.venues import venue_info

    return venue_info(exchange)


def credential_fields(exchange: str) -> list[tuple[str, str]]:
    """The credentials an exchange needs (ccxt names) with the names its website uses.

    ExchangeUnsupportedError (with a suggestion) for an exchange keyfolio does not know.
    """
    from keyfolio.exchanges.catalog import credential_label, exchange_info

    info = exchange_info(exchange.lower())
    return [(field, credential_label(field, info.id)) for field in info.required_credentials]


def secret_is_multiline(exchange: str) -> bool:
    """Whether the exchange's secret is a multi-line key (a PEM): it is then read from a
    multi-line prompt or a file (``VenueInfo.multiline_secret``)."""
    from keyfolio.exchanges.catalog import exchange_info

    return exchange_info(exchange.lower()).multiline_secret


def refuse_manual(spec: AccountSpec, what: str) -> None:
    """Manual accounts have no key: syncing, checking or rotating them makes no sense."""
    if spec.is_manual:
        raise UsageError(
            f"'{spec.name}' is a manual account (holdings entered by hand): there is "
            f"nothing to {what}",
            hint=f"Change its holdings with `keyfolio holding add|remove --account {spec.name}`.",
        )


def check_name(name: str, *, what: str = "account") -> None:
    """Account and portfolio names: short, no spaces, safe in a shell and a URL."""
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid {what} name",
            hint="Use letters, digits, '.', '_' or '-' (up to 64 characters, starting with a "
            "letter or digit), e.g. main.",
        )


def account_spec(
    *,
    exchange: str,
    name: str,
    region: Region = Region.GLOBAL,
    demo: bool = False,
    api_url: str | None = None,
    portfolio: str = "main",
    import_balance: bool = True,
) -> AccountSpec:
    """The checked spec of a new account, before any network call (CLI and API alike).

    A venue's ccxt alias (``myokx``, ``okxus``) becomes the venue with its fixed region;
    regions and demo keys exist only where the venue has them; ``api_url`` is a base URL
    (scheme and host only).
    """
    exchange = exchange.lower()
    venue = _venue(exchange)
    fixed = venue.aliases.get(exchange) if venue is not None else None
    if venue is not None and fixed is not None:
        if region is not Region.GLOBAL and region is not fixed:
            raise UsageError(
                f"{exchange} is {venue.name}'s {fixed.value} region, but region {region.value} "
                "was given",
                hint=f"Use exchange {venue.id} with region {region.value}.",
            )
        exchange, region = venue.id, fixed
    check_name(name)
    regions = venue.regions if venue is not None else (Region.GLOBAL,)
    if region not in regions:
        raise UsageError(
            f"{exchange} has no region {region.value} here",
            hint=f"Link the {exchange} account without --region.",
        )
    if demo and (venue is None or not venue.has_demo):
        raise UsageError(
            f"demo keys are an OKX option; {exchange} has none here",
            hint=f"Link the {exchange} account without --demo.",
        )
    if api_url is not None and not _BASE_URL.fullmatch(api_url):
        raise UsageError(
            f"the API URL {api_url!r} is not a base URL",
            hint="Give the scheme and host only, with no path, e.g. http://127.0.0.1:8765",
        )
    return AccountSpec(
        exchange=exchange,
        name=name,
        region=region,
        demo=demo,
        api_url=api_url.rstrip("/") if api_url else None,
        portfolio=portfolio,
        import_balance=import_balance,
    )


def refuse_unless_read_only(spec: AccountSpec, key: KeyInfo) -> None:
    """UnsafeKeyError unless every permission of a verified key is on its venue's allowlist.

    The allowlist (``KeyInfo.words.read``) is data in the venue's connector module; a key
    whose exchange offers no permission check passes here and gets a warning instead.
    """
    if not key.verified or key.is_read_only:
        return
    venue = _venue(spec.exchange)
    exchange = venue.name if venue is not None else spec.exchange.upper()
    assert key.words is not None  # a verified KeyInfo carries them
    words = key.words
    allowed = ", ".join(f"'{w}' ({words.labels.get(w, w)})" for w in sorted(words.read))
    if not key.permissions:
        raise UnsafeKeyError(
            f"refused: {exchange} reported no permissions for this key",
            hint=f"keyfolio stores a key only when every permission is one of {allowed}. "
            f"Check the key in {exchange}'s API Management, or create a new read-only one.",
        )
    refused = sorted(key.refused_permissions)
    unknown = [word for word in refused if word not in words.labels]
    hint = (
        f"keyfolio stores only read-only keys, whose every permission is one of: {allowed}. "
        f"This key has: {', '.join(sorted(key.permissions))}. "
    )
    if unknown:
        hint += (
            f"{', '.join(repr(w) for w in unknown)} is a permission keyfolio does not know, so it "
            "cannot tell that it only reads: the key is refused until keyfolio lists it as "
            "read-only (please report it). "
        )
    raise UnsafeKeyError(
        f"refused: this {exchange} key can do more than read: "
        + ", ".join(words.describe(word) for word in refused),
        hint=hint
        + (venue.key_guide if venue is not None else "Create a read-only key.")
        + " Then delete this key in API Management: a key that can do more than read should "
        "not sit on any machine that does not need it.",
    )


def _key_warnings(spec: AccountSpec, key: KeyInfo) -> list[str]:
    if not key.verified:
        return [
            f"{spec.exchange} offers no permission check: keyfolio cannot verify that this key is "
            "read-only. Make sure you created it with read permissions only."
        ]
    found = list(key.warnings)
    if not key.ip_reported:
        venue = _venue(spec.exchange)
        name = venue.name if venue is not None else spec.exchange
        found.append(
            f"{name} does not report whether this key is bound to an IP address. keyfolio runs "
            "on your own machine, so an IP allowlist with your public IP makes a leaked key "
            "useless elsewhere."
        )
        return found
    if not key.is_ip_bound:
        found.append(
            "this key is not bound to an IP address. keyfolio runs on your own machine, so binding "
            "the key to your public IP in API Management makes a leaked key useless elsewhere."
        )
    return found


async def validate(
    app: App, spec: AccountSpec, credentials: Credentials
) -> tuple[KeyInfo, list[SourceResult]]:
    """Check the key's permissions and read its balances. Stores nothing."""
    from keyfolio.services.assets import connector_pool

    protect(credentials)
    try:
        async with connector_pool(app) as pool:
            connector = pool.connector(spec, credentials)
            key = await connector.check_key()
            refuse_unless_read_only(spec, key)
            results = await connector.fetch_balances()
    except (ExchangeUnavailableError, ExchangeUnsupportedError) as exc:
        if isinstance(exc, RateLimitedError):
            raise
        where = f"--api-url {spec.api_url}" if spec.api_url else f"region {spec.region.value}"
        raise type(exc)(
            exc.message,
            hint=f"Nothing was stored. Check the network and the host ({where}: the URL must be "
            "the exchange's base address, e.g. https://www.okx.com, with no path), then try again.",
            exchange_code=exc.exchange_code,
        ) from exc
    if not any(result.is_ok for result in results):
        first = next((r for r in results if r.error), None)
        raise ExchangeError(
            f"could not read any balance of '{spec.name}'"
            + (f": {first.error}" if first and first.error else ""),
            hint=(first.hint if first and first.hint else None),
            exchange_code=first.error_code if first else None,
        )
    return key, results


def _ensure_name_free(store: Store, name: str) -> None:
    try:
        store.get_account(name=name)
    except NotFoundError:
        return
    raise ConflictError(
        f"an account named '{name}' already exists",
        hint=f"Choose another --name, or replace its key with `keyfolio account rotate {name}`.",
    )


def _refuse_duplicate_uid(app: App, spec: AccountSpec, uid: str) -> None:
    """One exchange account, one link: a second link would count everything twice."""
    with app.db().session(read_only=True) as store:
        accounts = store.list_accounts()
    for other in accounts:
        if other.name == spec.name:
            continue
        if other.exchange == spec.exchange and other.extra.get("uid") == uid:
            raise ConflictError(
                f"this key belongs to {spec.exchange.upper()} account uid {uid}, which is "
                f"already linked as '{other.name}'",
                hint="Linking it twice would count every balance twice. Use the existing "
                f"account, or replace its key with `keyfolio account rotate {other.name}`.",
            )


@contextmanager
def account_lock(app: App, name: str) -> Iterator[None]:
    """Hold the lock of account ``name`` across processes, or raise ``ConflictError`` at once.

    Linking, rotating and removing an account (and doctor's clean-up of a leftover key) hold it
    from their first check to their last write, so two of them can never interleave on the same
    name: two concurrent links of one name end with one account and its own key. It is an
    ``flock`` on ``locks/account-NAME.lock`` in the data directory, released by the kernel if
    the process dies. (With a PostgreSQL database shared by several machines it only orders the
    processes of one machine; the database's unique name still refuses a second account.)
    """
    from keyfolio.vault.lockfile import exclusive_lock

    directory = app.settings.ensure_home() / "locks"
    directory.mkdir(mode=0o700, exist_ok=True)
    busy = ConflictError(
        f"another keyfolio is linking, rotating or removing account '{name}' right now",
        hint="Wait for it to finish, then look with `keyfolio account list` and try again if "
        "still needed.",
    )
    # A name that could not be stored (spaces, slashes) still gets a safe file name.
    stem = name if _NAME.match(name) else hashlib.sha256(name.encode()).hexdigest()[:32]
    with exclusive_lock(directory / f"account-{stem}.lock", wait=False, busy=busy):
        yield


async def link_account(app: App, spec: AccountSpec, credentials: Credentials) -> LinkReport:
    """Validate, then store the account and its credentials and record the first import.

    Every failure raises before anything is stored. The account's name is locked
    (:func:`account_lock`) from the first check until the account is stored, so a concurrent
    link of the same name fails with ``ConflictError`` instead of replacing this key.
    """
    with account_lock(app, spec.name):
        spec, key, results, status, now = await _link_locked(app, spec, credentials)
    logger.info("linked %s account %s: %s", spec.exchange, spec.name, status)
    warnings = _key_warnings(spec, key)
    pricing_error = await refresh_prices(app, [spec])
    if pricing_error is not None:
        warnings.append(f"prices were not refreshed: {pricing_error.message}")
    record_snapshots(app, account=spec.name, results=results, at=now)
    history = await import_history(app, spec.name, credentials=credentials)
    mark_checked(app, [history])
    warnings += [f"history import: {error.message} {error.hint}" for error in history.errors]
    return LinkReport(
        spec=spec,
        key=key,
        results=results,
        status=status,
        warnings=warnings,
        history_new={kind.value: count for kind, count in sorted(history.new.items())},
        history_progress=list(history.progress.values()),
    )


async def _link_locked(
    app: App, spec: AccountSpec, credentials: Credentials
) -> tuple[AccountSpec, KeyInfo, list[SourceResult], str, datetime]:
    with app.db().session(read_only=True) as store:
        store.get_portfolio(name=spec.portfolio)
        _ensure_name_free(store, spec.name)
    app.unlock()
    key, results = await validate(app, spec, credentials)
    if key.uid:
        _refuse_duplicate_uid(app, spec, key.uid)
        spec = replace(spec, extra={**spec.extra, "uid": key.uid})
    now = datetime.now(UTC)
    vault = app.vault(create=True)
    vault.set(spec.name, credentials)
    try:
        with app.db().session() as store:
            store.add_account(spec=spec)
            status = store.record_sync(name=spec.name, results=results, synced_at=now)
    except BaseException:  # undo the key on any way out (even Ctrl-C), then re-raise
        try:  # only this link's key: never one that another process stored since
            vault.delete(spec.name, only_if=credentials)
        except KeyfolioError as cleanup:
            logger.warning("could not take the key of '%s' back out: %s", spec.name, cleanup)
        raise
    return spec, key, results, status, now


async def rotate_credentials(app: App, name: str, credentials: Credentials) -> LinkReport:
    """Validate new credentials for an existing account, then swap them atomically."""
    with account_lock(app, name):
        return await _rotate_locked(app, name, credentials)


async def _rotate_locked(app: App, name: str, credentials: Credentials) -> LinkReport:
    with app.db().session(read_only=True) as store:
        spec = store.get_account(name=name)
    refuse_manual(spec, "rotate")
    vault = app.vault()
    vault.get(name)  # raises NotFoundError if the vault lost it
    key, results = await validate(app, spec, credentials)
    linked_uid = spec.extra.get("uid")
    if linked_uid and key.uid and key.uid != linked_uid:
        raise ConflictError(
            f"the new key belongs to another {spec.exchange.upper()} account (uid {key.uid}); "
            f"'{name}' is uid {linked_uid}",
            hint="Rotate to a key of the same account (a sub-account has its own uid). To track "
            "the other account, link it under its own name with `keyfolio account add`.",
        )
    if key.uid and not linked_uid:
        # Linked before uids were stored: check the new key against the others, then remember it.
        _refuse_duplicate_uid(app, spec, key.uid)
    vault.set(name, credentials)
    with app.db().session() as store:
        if key.uid and not linked_uid:
            store.update_account_extra(name=name, values={"uid": key.uid})
        status = store.record_sync(name=name, results=results, synced_at=datetime.now(UTC))
    return LinkReport(
        spec=spec, key=key, results=results, status=status, warnings=_key_warnings(spec, key)
    )


def remove_account(app: App, name: str) -> AccountSpec:
    """Forget an account: its database rows first, then its secret in the vault.

    The vault is opened before anything changes (a wrong password changes nothing). The row
    goes first so that a crash between the two steps leaves a key without an account, which
    `keyfolio doctor` reports and removes, never an account whose key is gone.
    """
    with account_lock(app, name):
        with app.db().session(read_only=True) as store:
            spec = store.get_account(name=name)
        vault = app.vault() if app.has_vault() else None
        with app.db().session() as store:
            store.remove_account(name=name)
        if vault is None:
            return spec
        try:
            vault.delete(name)
        except NotFoundError:
            pass  # a manual account, or a key that was never stored
        except VaultError as exc:
            raise VaultError(
                f"account '{name}' was removed, but its key could not be wiped from the vault: "
                f"{exc.message}",
                hint="Run `keyfolio doctor --fix` to delete the leftover key from the vault.",
            ) from exc
    return spec


def get_account(app: App, name: str) -> AccountSpec:
    """One account (NotFoundError with a hint if there is none of that name)."""
    with app.db().session(read_only=True) as store:
        return store.get_account(name=name)


def list_accounts(app: App, *, portfolio: str | None = None) -> list[AccountSpec]:
    with app.db().session(read_only=True) as store:
        return store.list_accounts(portfolio=portfolio)


def move_account(app: App, name: str, portfolio: str) -> AccountSpec:
    with app.db().session() as store:
        store.move_account(name=name, portfolio=portfolio)
        return store.get_account(name=name)


def import_balance(app: App, name: str, enabled: bool) -> AccountSpec:
    with app.db().session() as store:
        store.set_import_balance(name=name, enabled=enabled)
        return store.get_account(name=name)
