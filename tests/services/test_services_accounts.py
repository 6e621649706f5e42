"""Account services against the real sandbox: rotating a key on an account linked without a uid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import BOB_KEY, READ_KEY, base_state

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ConflictError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues.okx.state import parse_state
from keyfolio.services.accounts import get_account, link_account, rotate_credentials
from keyfolio.services.context import App


def creds(key: dict[str, str]) -> Credentials:
    return Credentials(
        fields={"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}
    )


@pytest.fixture
def sandbox() -> Iterator[str]:
    with SandboxThread(parse_state(base_state())) as server:
        yield server.url


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "pw-services-accounts")
    yield app
    app.close()


def _forget_uid(app: App, name: str) -> None:
    with app.db().session() as store:
        store.update_account_extra(name=name, values={"uid": ""})
    assert not get_account(app, name).extra.get("uid")


async def test_rotate_stores_the_uid_of_an_account_linked_without_one(
    app: App, sandbox: str
) -> None:
    report = await link_account(app, AccountSpec("okx", "alice", api_url=sandbox), creds(READ_KEY))
    uid = report.spec.extra["uid"]
    _forget_uid(app, "alice")

    await rotate_credentials(app, "alice", creds(READ_KEY))

    assert get_account(app, "alice").extra["uid"] == uid


async def test_rotate_without_a_stored_uid_still_refuses_another_linked_account(
    app: App, sandbox: str
) -> None:
    await link_account(app, AccountSpec("okx", "alice", api_url=sandbox), creds(READ_KEY))
    await link_account(app, AccountSpec("okx", "bob", api_url=sandbox), creds(BOB_KEY))
    _forget_uid(app, "alice")

    with pytest.raises(ConflictError, match="already linked as 'bob'"):
        await rotate_credentials(app, "alice", creds(BOB_KEY))
    assert app.vault().get("alice").fields["apiKey"] == READ_KEY["apiKey"]
