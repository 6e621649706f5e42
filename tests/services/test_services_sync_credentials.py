"""A sync reads the credentials it needs at its start and never goes back to the vault.

`keyfolio serve` may re-lock the vault while a sync runs (or, after the sync, a background
task may find it locked): the balances and the history import of that sync must not need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import READ_KEY, base_state, control

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import VaultLockedError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues.okx.state import parse_state
from keyfolio.services.accounts import link_account
from keyfolio.services.context import App
from keyfolio.services.sync import sync_accounts

PASSWORD = "pw-services-sync-credentials"


@pytest.fixture
def sandbox() -> Iterator[str]:
    with SandboxThread(parse_state(base_state())) as server:
        yield server.url


class Password:
    """A password provider that can be switched off, like a vault that re-locked."""

    def __init__(self) -> None:
        self.locked = False
        self.asked = 0

    def __call__(self, **_: object) -> str:
        self.asked += 1
        if self.locked:
            raise VaultLockedError("the vault is locked")
        return PASSWORD


async def test_a_vault_locked_during_the_sync_does_not_stop_it(
    tmp_path: Path, sandbox: str
) -> None:
    password = Password()
    app = App(settings=Settings(home=tmp_path), password=password)
    try:
        creds = Credentials(
            fields={
                "apiKey": READ_KEY["apiKey"],
                "secret": READ_KEY["secret"],
                "password": READ_KEY["passphrase"],
            }
        )
        await link_account(app, AccountSpec("okx", "alice", api_url=sandbox), creds)
        moved = {"account": "alice", "source": "funding", "asset": "USDT", "amount": "51"}
        control(sandbox, "/__sandbox__/balances", moved)  # so the sync reads the history

        def lock_once_started(account: str, event: str) -> None:
            if event == "start":  # the credentials were read: lock the vault now
                app.lock()
                password.locked = True

        report = await sync_accounts(app, progress=lock_once_started)
        assert [outcome.status for outcome in report.outcomes] == ["ok"]
        (imported,) = report.imports
        assert imported.errors == []  # the history import used the sync's credentials
        assert not app.is_open and password.asked == 1  # never asked again after the start
        with pytest.raises(VaultLockedError):  # the next sync needs the vault again
            await sync_accounts(app)
    finally:
        app.close()


async def test_the_vault_key_is_derived_while_other_work_runs(tmp_path: Path) -> None:
    """`App.unlock_meanwhile`: the password is asked first, the Argon2id derivation runs on a
    worker thread, and the work (a sync's imports) runs meanwhile, not after it."""
    creator = App(settings=Settings(home=tmp_path), password=lambda **_: PASSWORD)
    creator.vault(create=True).set("x", Credentials(fields={"apiKey": "k"}))
    password = Password()
    app = App(settings=Settings(home=tmp_path), password=password)
    seen: list[tuple[int, bool]] = []
    await app.unlock_meanwhile(lambda: seen.append((password.asked, app.is_open)))
    assert seen == [(1, False)]  # asked, and still deriving while the work ran
    assert app.vault().get("x").fields == {"apiKey": "k"}


async def test_a_wrong_password_still_fails_after_the_work(tmp_path: Path) -> None:
    from keyfolio.errors import VaultDecryptError

    creator = App(settings=Settings(home=tmp_path), password=lambda **_: PASSWORD)
    creator.vault(create=True).set("x", Credentials(fields={"apiKey": "k"}))
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "not-the-password")
    ran: list[bool] = []
    with pytest.raises(VaultDecryptError):
        await app.unlock_meanwhile(lambda: ran.append(True))
    assert ran == [True] and not app.is_open
