"""keyfolio.vault: exchange credentials encrypted at rest (Argon2id + AES-256-GCM).

Open or create the vault with :class:`Vault`; the file format is described in
:mod:`keyfolio.vault.crypto`.
"""

from keyfolio.vault.store import Vault

__all__ = ["Vault"]
