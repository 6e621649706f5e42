"""The one error hierarchy of keyfolio.

Every error carries a message (what happened) and a ``hint`` (what the user can do).
The CLI prints both; the API returns both as JSON.

```
KeyfolioError                          # message + .hint
├── ConfigError                        # exit 2: bad option, file or setting
│   └── SandboxStateError              # a sandbox state file that does not validate
├── UsageError                         # exit 2: a command used the wrong way
├── InternalError                      # a bug in keyfolio, reported where work goes on
├── NotFoundError                      # an account or portfolio that does not exist
├── ConflictError                      # a name already taken, a non-empty portfolio, ...
├── NoWorkerError                      # hosted mode: no `keyfolio worker` takes the jobs
├── VaultError                         # exit 2
│   ├── VaultLockedError               # no password available (no TTY, no env var)
│   ├── VaultDecryptError              # wrong password, or a modified / truncated file
│   └── VaultCorruptError              # the file is not a keyfolio vault at all
│       └── VaultVersionError          # a vault written by a newer keyfolio
├── ExchangeError
│   ├── ExchangeAuthError              # the exchange refused the credentials
│   │   ├── InvalidKeyError            # 50111: unknown API key
│   │   ├── KeyRefusedError            # one answer for several causes (Binance -2015)
│   │   ├── KeyNotInRegionError        # 50119: key doesn't exist on this regional host
│   │   ├── WrongPassphraseError       # 50105
│   │   ├── InvalidSignatureError      # 50113: wrong secret
│   │   ├── IpNotAllowedError          # 50110: IP not whitelisted
│   │   ├── ClockSkewError             # 50102: timestamp out of the 30 s window
│   │   ├── InvalidNonceError          # Kraken: a nonce not above the key's last one
│   │   ├── EnvironmentMismatchError   # 50101: demo key on live or the reverse
│   │   └── PermissionDeniedError      # 50120 / 50030: key lacks a permission
│   ├── UnsafeKeyError                 # the key can trade or withdraw: refused
│   ├── ExchangeUnavailableError       # retryable: network, 5xx, timeout, maintenance
│   │   └── RateLimitedError           # retryable with a longer backoff
│   ├── ExchangeResponseError          # the exchange answered something we cannot read
│   └── ExchangeUnsupportedError       # capability or exchange missing
├── PricingError
│   └── PriceNotFoundError
└── StorageError                       # the database failed
    ├── SchemaOutdatedError            # exit 2: a database from a newer keyfolio
    └── StorageUnavailableError        # exit 2: this machine cannot store anything now
        ├── DataDirError               # the data directory (or a file in it) is unusable
        ├── DiskFullError              # no space left (ENOSPC, EDQUOT) or a size limit (EFBIG)
        └── DatabaseLockedError        # another process held the database past the timeout
```

``keyfolio.oserrors.translate_os_error`` is the one place where an ``OSError`` of the
machine (a full disk, a read-only or missing directory, a directory where a file belongs)
becomes one of the ``StorageUnavailableError`` family.
"""

from __future__ import annotations

__all__ = [
    "ClockSkewError",
    "ConfigError",
    "ConflictError",
    "DataDirError",
    "DatabaseLockedError",
    "DiskFullError",
    "EnvironmentMismatchError",
    "ExchangeAuthError",
    "ExchangeError",
    "ExchangeResponseError",
    "ExchangeUnavailableError",
    "ExchangeUnsupportedError",
    "InternalError",
    "InvalidKeyError",
    "InvalidNonceError",
    "InvalidSignatureError",
    "IpNotAllowedError",
    "KeyNotInRegionError",
    "KeyRefusedError",
    "KeyfolioError",
    "NoWorkerError",
    "NotFoundError",
    "PermissionDeniedError",
    "PriceNotFoundError",
    "PricingError",
    "RateLimitedError",
    "SandboxStateError",
    "SchemaOutdatedError",
    "StorageError",
    "StorageUnavailableError",
    "UnsafeKeyError",
    "UsageError",
    "VaultCorruptError",
    "VaultDecryptError",
    "VaultError",
    "VaultLockedError",
    "VaultVersionError",
    "WrongPassphraseError",
]


class KeyfolioError(Exception):
    """Base of every error keyfolio raises on purpose.

    ``message`` says what happened; ``hint`` says what to do about it.
    ``code`` is a short machine-readable name used by the JSON API.
    """

    default_hint = "Run the command again with --debug for details."
    exit_code = 1
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class ConfigError(KeyfolioError):
    """A setting, option or file is invalid. Exit code 2."""

    default_hint = "Check the option or setting named above; `keyfolio --help` lists them."
    exit_code = 2
    code = "config_error"


class SandboxStateError(ConfigError):
    """A sandbox state file does not validate: names the file, field and problem."""

    default_hint = "Fix the state file; its format is documented in docs/sandbox.md."
    code = "sandbox_state_error"


class UsageError(KeyfolioError):
    """A command was used the wrong way. Exit code 2."""

    default_hint = "See the command's --help."
    exit_code = 2
    code = "usage_error"


class InternalError(KeyfolioError):
    """A bug in keyfolio, caught where the work must go on (one account of a sync).

    Its traceback is logged at ERROR; the message names the exception, the hint says it is a
    bug. Everywhere else a bug is not caught at all: the CLI's boundary reports it.
    """

    default_hint = (
        "This is a bug in keyfolio, not a problem with your data or the exchange. Its traceback "
        "is in the log file (keyfolio.log in the data directory); please report it."
    )
    code = "internal_error"

    @classmethod
    def from_bug(cls, exc: BaseException, *, doing: str) -> InternalError:
        """``bug in keyfolio while <doing>: TypeError: ...`` for the exception ``exc``."""
        return cls(f"bug in keyfolio while {doing}: {type(exc).__name__}: {exc}")


class NotFoundError(KeyfolioError):
    """An account, portfolio or other named object does not exist."""

    default_hint = "List what exists with `keyfolio account list` or `keyfolio portfolio list`."
    code = "not_found"


class ConflictError(KeyfolioError):
    """The request conflicts with what is stored (name taken, portfolio not empty, ...)."""

    default_hint = "Choose another name, or change what is stored first."
    code = "conflict"


class NoWorkerError(KeyfolioError):
    """Hosted mode: sync jobs were sent, and no `keyfolio worker` is there to run them (none has
    sent a heartbeat to Redis for ``KEYFOLIO_BROKER_HEARTBEAT_SECONDS``)."""

    default_hint = (
        "Start a worker with `keyfolio worker` on a machine with the same KEYFOLIO_BROKER_URL, "
        "KEYFOLIO_DATABASE_URL and vault password (docs/deploy.md); the jobs wait in the queue "
        "and run when it starts."
    )
    code = "no_worker"


class VaultError(KeyfolioError):
    """Base for vault problems. Exit code 2."""

    default_hint = "Check the vault password (KEYFOLIO_PASSWORD or the prompt)."
    exit_code = 2
    code = "vault_error"


class VaultLockedError(VaultError):
    """No password is available to unlock the vault."""

    default_hint = "Set KEYFOLIO_PASSWORD or run the command in a terminal to be prompted."
    code = "vault_locked"


class VaultDecryptError(VaultError):
    """The vault could not be decrypted: wrong password, or a modified or truncated file."""

    default_hint = (
        "Wrong password or damaged file. Re-enter the password; if the file was damaged, "
        "restore it from a backup. keyfolio never overwrites a vault it cannot read."
    )
    code = "vault_decrypt"


class VaultCorruptError(VaultError):
    """The vault file is not a keyfolio vault (bad magic, header or version)."""

    default_hint = "Restore the vault file from a backup; keyfolio will not overwrite it."
    code = "vault_corrupt"


class VaultVersionError(VaultCorruptError):
    """The vault file was written by a newer keyfolio (a format version above the known one)."""

    default_hint = (
        "Upgrade keyfolio (`pip install -U keyfolio`) to read it. keyfolio never overwrites a "
        "vault it cannot read."
    )
    code = "vault_too_new"


class ExchangeError(KeyfolioError):
    """Base for anything an exchange refused or failed to do."""

    default_hint = "Run `keyfolio doctor` for a diagnosis of the account."
    code = "exchange_error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        exchange_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.exchange_code = exchange_code
        self.retry_after = retry_after
        """Seconds the exchange asked to wait before the next request (``Retry-After``)."""


class ExchangeAuthError(ExchangeError):
    """The exchange refused the credentials."""

    default_hint = "Check the API key, secret and passphrase, or create a new read-only key."
    code = "auth_error"


class InvalidKeyError(ExchangeAuthError):
    """The API key is unknown to the exchange (OKX 50111)."""

    default_hint = (
        "The API key is not known to the exchange. Copy it again from API Management, "
        "or create a new read-only key."
    )
    code = "invalid_key"


class KeyRefusedError(ExchangeAuthError):
    """The exchange refused the key with one answer for several causes (Binance -2015: an
    unknown key, an IP the key is not bound to, or a missing permission)."""

    default_hint = (
        "Check that the API key exists, that this machine's IP address is allowed for it, and "
        "that it has the read permission; if in doubt create a new read-only key."
    )
    code = "key_refused"


class KeyNotInRegionError(ExchangeAuthError):
    """The key does not exist on this regional host (OKX 50119)."""

    default_hint = (
        "OKX keys only work on the host of the region where they were created. "
        "Try another region with --region global|eea|us (my.okx.com is eea, app.okx.com is us)."
    )
    code = "key_not_in_region"


class WrongPassphraseError(ExchangeAuthError):
    """The passphrase does not match the key (OKX 50105)."""

    default_hint = (
        "OKX stores only a hash of the passphrase and cannot recover it. If you have lost it, "
        "delete this key in OKX API Management and create a new read-only key."
    )
    code = "wrong_passphrase"


class InvalidSignatureError(ExchangeAuthError):
    """The signature did not verify: the secret key is wrong (OKX 50113)."""

    default_hint = (
        "The secret key does not belong to this API key. Copy the Secret key again; "
        "OKX shows it only once, so create a new key if it is lost."
    )
    code = "invalid_signature"


class IpNotAllowedError(ExchangeAuthError):
    """The caller's IP address is not on the key's whitelist (OKX 50110)."""

    default_hint = "Add this machine's public IP address to the key's IP whitelist in OKX."
    code = "ip_not_allowed"


class ClockSkewError(ExchangeAuthError):
    """The request timestamp is too far from the exchange's clock (OKX 50102)."""

    default_hint = "Synchronise this machine's clock (e.g. `timedatectl set-ntp true`)."
    code = "clock_skew"


class InvalidNonceError(ExchangeAuthError):
    """The request's nonce is not above the last one the key accepted (Kraken
    ``EAPI:Invalid nonce``): another program uses the same key, or its nonce went backwards."""

    default_hint = (
        "Another program is using this API key, or the key has seen a larger nonce than this "
        "machine sends. Give keyfolio an API key of its own."
    )
    code = "invalid_nonce"


class EnvironmentMismatchError(ExchangeAuthError):
    """A demo-trading key used live, or a live key used in demo mode (OKX 50101)."""

    default_hint = (
        "Demo Trading keys need --demo; live keys must not use it. "
        "Re-add the account with or without --demo."
    )
    code = "environment_mismatch"


class PermissionDeniedError(ExchangeAuthError):
    """The key lacks a permission for this call (OKX 50120, 50030)."""

    default_hint = "Give the key the Read permission in OKX API Management."
    code = "permission_denied"


class UnsafeKeyError(ExchangeError):
    """The key can trade or withdraw: keyfolio refuses to store it."""

    default_hint = (
        "keyfolio only accepts read-only keys. In OKX API Management create a key with the "
        "Read permission only, link that one, and delete this key."
    )
    code = "unsafe_key"


class ExchangeUnavailableError(ExchangeError):
    """A temporary failure: network, timeout, HTTP 5xx or maintenance. Retried."""

    default_hint = "This is usually temporary. Try again in a minute; earlier data is kept."
    code = "exchange_unavailable"


class RateLimitedError(ExchangeUnavailableError):
    """The exchange's rate limit was hit. Retried with a longer backoff."""

    default_hint = "The exchange is rate limiting this key. Wait a few seconds and try again."
    code = "rate_limited"


class ExchangeResponseError(ExchangeError):
    """The exchange sent an answer keyfolio cannot read."""

    default_hint = "Try again later; if it persists, report it with the --debug output."
    code = "bad_response"


class ExchangeUnsupportedError(ExchangeError):
    """The exchange or the capability is not supported."""

    default_hint = "Run `keyfolio exchanges` to see what is supported."
    code = "unsupported"


class PricingError(KeyfolioError):
    """Prices could not be fetched."""

    default_hint = "Prices are fetched from OKX's public tickers; check the network."
    code = "pricing_error"


class PriceNotFoundError(PricingError):
    """No market prices this asset."""

    default_hint = "The asset is listed as unpriced; its amount is kept."
    code = "price_not_found"


class StorageError(KeyfolioError):
    """The database failed."""

    default_hint = "Check the data directory (--home) is writable."
    code = "storage_error"


class SchemaOutdatedError(StorageError):
    """The database schema is one this keyfolio does not know: written by a newer keyfolio."""

    default_hint = "Upgrade keyfolio, or restore the database from a backup."
    exit_code = 2
    code = "schema_outdated"


class StorageUnavailableError(StorageError):
    """This machine cannot store anything right now: the disk, the directory or a lock.

    Not a problem of one account: a sync stops at the first one instead of trying every
    account in turn. Exit code 2. An ``OSError`` becomes one in
    :func:`keyfolio.oserrors.translate_os_error`.
    """

    default_hint = (
        "Check the data directory (--home or KEYFOLIO_HOME) and the disk it is on; "
        "the last good data is kept."
    )
    exit_code = 2
    code = "storage_unavailable"


class DataDirError(StorageUnavailableError):
    """The data directory, or a file keyfolio keeps in it, cannot be used.

    It is a file, it is read-only (permissions or a read-only mount), or a directory sits
    where keyfolio keeps a file (the log). Exit code 2.
    """

    default_hint = (
        "Make the data directory writable (check its owner and mode, or remount the disk "
        "read-write), or choose another one with --home DIR or KEYFOLIO_HOME."
    )
    code = "data_dir_error"


class DiskFullError(StorageUnavailableError):
    """No space is left on the disk of the data directory (or a file size limit was hit)."""

    default_hint = (
        "Free some space on the disk that holds the data directory (--home), then run the "
        "command again. Nothing was half-written: the last good data is kept."
    )
    code = "disk_full"


class DatabaseLockedError(StorageUnavailableError):
    """Another process held the database longer than the lock timeout."""

    default_hint = (
        "Another keyfolio process (a sync, `keyfolio serve`) is writing to the database. Wait "
        "for it to finish or stop it, then run the command again. The wait is "
        "KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS (default 5)."
    )
    code = "database_locked"
