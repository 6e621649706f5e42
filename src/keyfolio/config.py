"""Settings: a pydantic model filled from ``KEYFOLIO_*`` environment variables.

Precedence: CLI options (keyword arguments), then environment, then defaults. Exchange keys
never live here; they are in the vault. Build a ``Settings`` where it is needed
(``cli.main``), never at import.

The environment is read by :func:`_from_environ`, the subset of pydantic-settings that keyfolio
used (``KEYFOLIO_`` prefix, names in any case, a dict field as JSON or as
``KEYFOLIO_FIELD__KEY`` per key), and pydantic validates the values as before: the same
variables, the same checks, the same ``ValidationError`` messages. Importing pydantic-settings
(its dotenv, TOML, CLI and cloud sources) was a third of `keyfolio show`'s start-up above its
own imports (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from keyfolio.errors import DataDirError
from keyfolio.oserrors import translate_os_error

__all__ = ["ENV_PREFIX", "Settings", "default_home"]

ENV_PREFIX = "KEYFOLIO_"
_NESTED = "__"


def default_home() -> Path:
    """The platform's user data directory for keyfolio."""
    import platformdirs

    return Path(platformdirs.user_data_dir("keyfolio", appauthor=False))


def _from_environ(fields: dict[str, bool]) -> dict[str, Any]:
    """The ``KEYFOLIO_*`` variables of ``fields`` (name -> is a dict field), by field name.

    Names are matched in any case. A dict field takes a JSON object
    (``KEYFOLIO_OKX_HOSTS='{"eea": "https://…"}'``) and single keys
    (``KEYFOLIO_OKX_HOSTS__EEA=https://…``, the key lower-cased), merged; a value that is not
    JSON is left for pydantic to reject ("Input should be a valid dictionary").
    """
    found: dict[str, Any] = {}
    nested: dict[str, list[tuple[list[str], str]]] = {}
    for name, value in os.environ.items():
        lowered = name.lower()
        if not lowered.startswith(ENV_PREFIX.lower()):
            continue
        field, *path = lowered[len(ENV_PREFIX) :].split(_NESTED)
        if field not in fields:
            continue
        if not path:
            found[field] = _json_or_raw(value) if fields[field] else value
        elif fields[field] and all(path):
            nested.setdefault(field, []).append((path, value))
    for field, entries in nested.items():
        merged = found.setdefault(field, {})
        if isinstance(merged, dict):  # else not JSON: pydantic rejects the whole value
            for path, value in entries:
                _put(merged, path, value)
    return found


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _put(target: dict[str, Any], path: list[str], value: str) -> None:
    """Set ``target[path[0]][path[1]]… = value``, creating the inner dicts."""
    *inner, last = path
    for key in inner:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[last] = value


class Settings(BaseModel):
    """Every setting keyfolio reads from the environment (``KEYFOLIO_<FIELD>``)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # built below, without plugins

    def __init__(self, **values: Any) -> None:
        """Keyword arguments win over the environment, which wins over the defaults."""
        super().__init__(**{**_from_environ(_FIELDS), **values})

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    markets_ttl_seconds: int = 24 * 3600
    sync_concurrency: int | None = Field(default=None, ge=1)
    """``KEYFOLIO_SYNC_CONCURRENCY``: accounts synced at once, for every exchange. Unset, each
    venue's own number applies (from its documented rate limits, see docs/benchmarks.md)."""
    request_timeout_seconds: float = 10.0
    retries: int = 3
    debug: bool = False
    okx_hosts: dict[str, str] = Field(default_factory=dict)
    """Per-region REST host overrides, e.g. ``KEYFOLIO_OKX_HOSTS__EEA=https://proxy.example``.

    Used for accounts without their own ``--api-url`` (a corporate proxy, or the sandbox).
    """
    api_token: SecretStr | None = None
    """``KEYFOLIO_API_TOKEN``: the bearer token `keyfolio serve` requires (needed off loopback)."""
    history_check_hours: float = Field(default=6.0, gt=0)
    """``KEYFOLIO_HISTORY_CHECK_HOURS``: a sync reads the history of an account whose balances
    did not change only when its last full check is this old."""
    poll_seconds: float = Field(default=60.0, gt=0)
    """``KEYFOLIO_POLL_SECONDS``: how often `keyfolio serve` syncs when it is not live."""
    db_lock_timeout_seconds: float = Field(default=5.0, gt=0, le=3600)
    """``KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS``: how long a write waits for another process that
    holds the SQLite database before it fails with ``DatabaseLockedError``."""
    log_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    """``KEYFOLIO_LOG_MAX_BYTES``: ``keyfolio.log`` is rotated when it would grow past this."""
    log_backups: int = Field(default=5, ge=1, le=100)
    """``KEYFOLIO_LOG_BACKUPS``: rotated logs kept (``keyfolio.log.1`` … ``.N``)."""
    vault_idle_minutes: float = Field(default=15.0, ge=0)
    """``KEYFOLIO_VAULT_IDLE_MINUTES``: `keyfolio serve` re-locks the vault after this many
    minutes without a use of it by the user (unlock, sync, link, rotate, remove); 0 never."""

    price_max_age_minutes: float = Field(default=60.0, gt=0)
    """``KEYFOLIO_PRICE_MAX_AGE_MINUTES``: a price whose ticker time (the venue's own ``ts``) is
    older than this is marked stale in `keyfolio show`, its JSON and the dashboard."""

    broker_url: str | None = None
    """``KEYFOLIO_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``): hosted mode. Syncs run on
    `keyfolio worker` processes fed by `keyfolio scheduler` through this Redis (Dramatiq), the
    vault's ciphertext lives in the database (``KEYFOLIO_DATABASE_URL``, PostgreSQL) and events
    cross processes. Unset: everything runs in this process, as always (docs/deploy.md)."""
    broker_namespace: str = Field(default="keyfolio", min_length=1, max_length=64)
    """``KEYFOLIO_BROKER_NAMESPACE``: the prefix of every Redis key and channel keyfolio uses
    (two deployments can share one Redis with two namespaces)."""
    broker_heartbeat_seconds: float = Field(default=60.0, gt=0, le=3600)
    """``KEYFOLIO_BROKER_HEARTBEAT_SECONDS``: a worker silent this long is taken for dead and its
    unfinished jobs are delivered again to another worker."""
    password_file: Path | None = None
    """``KEYFOLIO_PASSWORD_FILE``: a file holding the vault password (hosted workers), read
    when ``KEYFOLIO_PASSWORD`` is unset."""
    rate_limits: bool = True
    """``KEYFOLIO_RATE_LIMITS``: in hosted mode, share each venue's request budget per egress
    IP through Redis (``false`` only for a private venue without limits)."""
    rate_budget_share: float = Field(default=0.8, gt=0, le=1)
    """``KEYFOLIO_RATE_BUDGET_SHARE``: the share of each venue's per-IP limits hosted mode's
    workers spend together (lower it when other software leaves through the same IP)."""
    egress_ip: str = "default"
    """``KEYFOLIO_EGRESS_IP``: the label of this machine's public IP for the shared rate budgets;
    workers behind the same IP must use the same label (docs/deploy.md)."""

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_url(self) -> str:
        """The database URL: ``KEYFOLIO_DATABASE_URL``, else SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.home / 'keyfolio.db'}"

    @property
    def is_hosted(self) -> bool:
        """Whether ``KEYFOLIO_BROKER_URL`` is set (hosted mode, docs/deploy.md)."""
        return bool(self.broker_url)

    @property
    def vault_path(self) -> Path:
        return self.home / "vault.bin"

    @property
    def log_path(self) -> Path:
        return self.home / "keyfolio.log"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def ensure_home(self) -> Path:
        """Create the data directory (mode 0700) if needed, check it is usable, return it.

        Raises :class:`~keyfolio.errors.DataDirError` (exit 2) when the path is a file, or the
        directory cannot be created or written (permissions, a read-only mount), and
        :class:`~keyfolio.errors.DiskFullError` when there is no space to create it.
        """
        home = self.home
        if home.exists() and not home.is_dir():
            raise DataDirError(
                f"the data directory {home} is a file, not a directory",
                hint="Point --home (or KEYFOLIO_HOME) at a directory, or move that file away.",
            )
        try:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise translate_os_error(exc, what=f"the data directory {home}") or DataDirError(
                f"cannot create the data directory {home}: {exc.strerror or exc}"
            ) from exc
        if not os.access(home, os.W_OK | os.X_OK):
            raise DataDirError(
                f"the data directory {home} is read-only: keyfolio cannot write its database, "
                "vault and log there",
            )
        return home


_FIELDS = {
    name: get_origin(info.annotation) is dict for name, info in Settings.model_fields.items()
}
"""Each field's name, and whether it is a dict (read as JSON or as ``__KEY`` parts)."""


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """Build a model without looking for pydantic plugins: the first model built with them
    scans the entry points of every installed distribution (40-60 ms of `keyfolio show`);
    Typer builds its parameter adapters the same way."""
    previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


with _without_pydantic_plugins():
    Settings.model_rebuild(force=True)
