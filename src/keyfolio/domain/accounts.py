"""Accounts, regions and credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["MANUAL_EXCHANGE", "AccountSpec", "Credentials", "Region"]


class Region(StrEnum):
    """OKX serves each region from its own host; keys only work on their own."""

    GLOBAL = "global"
    EEA = "eea"
    US = "us"

    @property
    def okx_host(self) -> str:
        """OKX's REST host for this region (``www.okx.com``, ``eea.okx.com``, ``us.okx.com``)."""
        return _OKX_HOSTS[self]


_OKX_HOSTS = {Region.GLOBAL: "www.okx.com", Region.EEA: "eea.okx.com", Region.US: "us.okx.com"}


@dataclass(frozen=True, repr=False)
class Credentials:
    """Exchange credentials, keyed by ccxt's credential names.

    ``apiKey``, ``secret`` and ``password`` (OKX's passphrase) are the usual ones.
    The repr never shows a value, so a credentials object in a traceback is harmless.
    """

    fields: Mapping[str, str]

    @property
    def api_key(self) -> str:
        return self.fields.get("apiKey", "")

    @property
    def secret(self) -> str:
        return self.fields.get("secret", "")

    @property
    def passphrase(self) -> str:
        return self.fields.get("password", "")

    def secrets(self) -> list[str]:
        """Every credential value, and each line of a multi-line one (a PEM key's body, also
        where written with literal ``\\n``), so a log line holding part of a key is masked."""
        found = [value for value in self.fields.values() if value]
        for value in list(found):
            for line in value.replace("\\n", "\n").splitlines():
                part = line.strip().strip('",')
                if len(part) >= 16 and not part.startswith("-----") and part not in found:
                    found.append(part)
        return found

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{name}=***' for name in sorted(self.fields))})"

    __str__ = __repr__


MANUAL_EXCHANGE = "manual"
"""The exchange id of accounts whose holdings are entered by hand."""


@dataclass(frozen=True)
class AccountSpec:
    """How to reach one exchange account (everything except the secrets)."""

    exchange: str
    name: str
    region: Region = Region.GLOBAL
    demo: bool = False
    api_url: str | None = None
    portfolio: str = "main"
    import_balance: bool = True
    status: str = "new"
    last_sync: datetime | None = None
    last_error_code: str | None = None
    last_error: str | None = None
    last_hint: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_manual(self) -> bool:
        """Holdings entered by hand (`keyfolio holding add`): no key, never contacted."""
        return self.exchange == MANUAL_EXCHANGE
