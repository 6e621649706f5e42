"""Settings: every ``KEYFOLIO_*`` setting, from keyword arguments and the environment.

Precedence: keyword arguments (CLI options), then the environment, then the defaults. Exchange
keys never live here; they are in the vault. Build a ``Settings`` where it is needed
(``cli.main``, ``create_app``), never at import.

Environment names are matched in any case; a dict setting is read as JSON
(``KEYFOLIO_OKX_HOSTS='{"eea": "https://..."}'``) or per key (``KEYFOLIO_OKX_HOSTS__EEA=...``).
Values are converted to the field's type (a bool from true/false, yes/no, on/off, 1/0) and
checked against its bounds; every refused value is listed in one ``ConfigError`` under its
variable's name. ``Settings`` is a frozen dataclass (``dataclasses.replace`` makes a changed
copy, checked the same way), without pydantic: importing it cost every command 0.1-0.15 s of
start-up (docs/benchmarks.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from keyfolio._settings import ENV_PREFIX, Secret, read_settings, setting
from keyfolio.errors import DataDirError
from keyfolio.oserrors import translate_os_error

__all__ = ["ENV_PREFIX", "Secret", "Settings", "default_home"]


def default_home() -> Path:
    """The platform's user data directory for keyfolio."""
    import platformdirs

    return Path(platformdirs.user_data_dir("keyfolio", appauthor=False))


@dataclass(frozen=True, init=False)
class Settings:
    """Every setting keyfolio reads from the environment (``KEYFOLIO_<FIELD>``)."""

    home: Path = field(default_factory=default_home)
    database_url: str | None = setting(None, repr=False)  # may hold a password
    markets_ttl_seconds: int = 24 * 3600
    sync_concurrency: int | None = setting(None, ge=1)
    """``KEYFOLIO_SYNC_CONCURRENCY``: accounts synced at once, for every exchange. Unset, each
    venue's own number applies (from its documented rate limits, see docs/benchmarks.md)."""
    request_timeout_seconds: float = 10.0
    retries: int = 3
    debug: bool = False
    okx_hosts: dict[str, str] = field(default_factory=dict)
    """Per-region REST host overrides, e.g. ``KEYFOLIO_OKX_HOSTS__EEA=https://proxy.example``.

    Used for accounts without their own ``--api-url`` (a corporate proxy, or the sandbox).
    """
    api_token: Secret | None = None
    """``KEYFOLIO_API_TOKEN``: the bearer token `keyfolio serve` requires (needed off loopback)."""
    history_check_hours: float = setting(6.0, gt=0)
    """``KEYFOLIO_HISTORY_CHECK_HOURS``: a sync reads the history of an account whose balances
    did not change only when its last full check is this old."""
    poll_seconds: float = setting(60.0, gt=0)
    """``KEYFOLIO_POLL_SECONDS``: how often `keyfolio serve` syncs when it is not live."""
    db_lock_timeout_seconds: float = setting(5.0, gt=0, le=3600)
    """``KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS``: how long a write waits for another process that
    holds the SQLite database before it fails with ``DatabaseLockedError``."""
    log_max_bytes: int = setting(5 * 1024 * 1024, ge=1024)
    """``KEYFOLIO_LOG_MAX_BYTES``: ``keyfolio.log`` is rotated when it would grow past this."""
    log_backups: int = setting(5, ge=1, le=100)
    """``KEYFOLIO_LOG_BACKUPS``: rotated logs kept (``keyfolio.log.1`` … ``.N``)."""
    vault_idle_minutes: float = setting(15.0, ge=0)
    """``KEYFOLIO_VAULT_IDLE_MINUTES``: `keyfolio serve` re-locks the vault after this many
    minutes without a use of it by the user (unlock, sync, link, rotate, remove); 0 never."""

    price_max_age_minutes: float = setting(60.0, gt=0)
    """``KEYFOLIO_PRICE_MAX_AGE_MINUTES``: a price whose ticker time (the venue's own ``ts``) is
    older than this is marked stale in `keyfolio show`, its JSON and the dashboard."""

    broker_url: str | None = setting(None, repr=False)  # may hold a password
    """``KEYFOLIO_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``): hosted mode. Syncs run on
    `keyfolio worker` processes fed by `keyfolio scheduler` through this Redis (Dramatiq), the
    vault's ciphertext lives in the database (``KEYFOLIO_DATABASE_URL``, PostgreSQL) and events
    cross processes. Unset: everything runs in this process, as always (docs/deploy.md)."""
    broker_namespace: str = setting("keyfolio", min_length=1, max_length=64)
    """``KEYFOLIO_BROKER_NAMESPACE``: the prefix of every Redis key and channel keyfolio uses
    (two deployments can share one Redis with two namespaces)."""
    broker_heartbeat_seconds: float = setting(60.0, gt=0, le=3600)
    """``KEYFOLIO_BROKER_HEARTBEAT_SECONDS``: a worker silent this long is taken for dead and its
    unfinished jobs are delivered again to another worker."""
    password_file: Path | None = None
    """``KEYFOLIO_PASSWORD_FILE``: a file holding the vault password (hosted workers), read
    when ``KEYFOLIO_PASSWORD`` is unset."""
    rate_limits: bool = True
    """``KEYFOLIO_RATE_LIMITS``: in hosted mode, share each venue's request budget per egress
    IP through Redis (``false`` only for a private venue without limits)."""
    rate_budget_share: float = setting(0.8, gt=0, le=1)
    """``KEYFOLIO_RATE_BUDGET_SHARE``: the share of each venue's per-IP limits hosted mode's
    workers spend together (lower it when other software leaves through the same IP)."""
    egress_ip: str = "default"
    """``KEYFOLIO_EGRESS_IP``: the label of this machine's public IP for the shared rate budgets;
    workers behind the same IP must use the same label (docs/deploy.md)."""

    def __init__(self, **values: object) -> None:
        """Keyword arguments win over the environment, which wins over the defaults.

        Raises :class:`~keyfolio.errors.ConfigError` listing every refused value (by its
        ``KEYFOLIO_*`` name), and ``TypeError`` for a keyword that is not a setting.
        """
        for name, value in read_settings(type(self), values, os.environ).items():
            object.__setattr__(self, name, value)

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
