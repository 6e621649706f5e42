"""keyfolio.vault: exchange credentials encrypted at rest (Argon2id + AES-256-GCM).

Open or create the vault with :class:`Vault`; the file format is described in
:mod:`keyfolio.vault.crypto`. :class:`Vault` is imported on first use, so reading a vault's
header (:func:`keyfolio.vault.crypto.check_format_version`) does not import argon2 or
cryptography.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyfolio.vault.store import Vault

__all__ = ["Vault"]


def __getattr__(name: str) -> Any:
    if name == "Vault":
        from keyfolio.vault.store import Vault

        return Vault
    raise AttributeError(f"module 'keyfolio.vault' has no attribute {name!r}")
