"""Sync of several accounts: one account's bug is its own; the machine's problem stops all."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from services_support import linked_app, okx_fields, one_btc_sandbox

from keyfolio.config import Settings
from keyfolio.errors import DatabaseLockedError, InternalError, NotFoundError
from keyfolio.services.context import App
from keyfolio.services.imports import ImportReport
from keyfolio.services.sync import SyncOutcome, SyncReport, sync_accounts

PASSWORD = "pw-services-sync-8c2"
KEY = {"apiKey": "sync-key-4a5b", "secret": "sync-secret-6c7d", "passphrase": "sync-pass-8e"}


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    yield from one_btc_sandbox(KEY)


def make_app(home: Path, url: str, **settings: Any) -> App:
    config = Settings(home=home, retries=1, **settings)
    # two accounts on the same sandbox key
    return linked_app(config, PASSWORD, "okx", url, okx_fields(KEY), names=["alice", "bob"])


def test_a_bug_in_balances_or_history_marks_the_report() -> None:
    ok = SyncOutcome("alice", "ok")
    assert not SyncReport(outcomes=[ok]).has_bug
    bug = InternalError("bug in keyfolio while syncing 'bob': KeyError: 'x'")
    assert SyncReport(outcomes=[ok, SyncOutcome("bob", "failed", error=bug)]).has_bug
    expected = SyncOutcome("bob", "failed", error=NotFoundError("no such account"))
    assert not SyncReport(outcomes=[ok, expected]).has_bug
    history_bug = ImportReport("alice", errors=[bug])
    assert SyncReport(outcomes=[ok], imports=[history_bug]).has_bug


@pytest.mark.fault("db_locked", sees="Error: the database … is locked; nothing written; exit 2")
async def test_a_locked_database_stops_the_whole_sync(tmp_path: Path, sandbox_url: str) -> None:
    app = make_app(tmp_path / "home", sandbox_url, db_lock_timeout_seconds=0.1)
    holder = sqlite3.connect(app.settings.home / "keyfolio.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLockedError) as caught:
            await sync_accounts(app, history=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "is locked" in caught.value.message and caught.value.exit_code == 2
    with app.db().session(read_only=True) as store:  # nothing was written for either account
        assert store.sync_runs() == [] and store.balances() == []
    report = await sync_accounts(app, history=False)  # the lock is gone: both land
    assert [o.status for o in report.outcomes] == ["ok", "ok"]
    app.close()
