"""Hosted mode on real PostgreSQL and Redis: a sync job runs once however often it is
delivered, and a worker thread takes the scheduler's jobs from the queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hosted_support import REDIS_URL, fresh_namespace, fresh_pg_database, needs_servers
from services_support import linked_app, okx_fields, one_btc_sandbox

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ConfigError
from keyfolio.services.context import App
from keyfolio.services.hosted import enqueue_round, require_hosted, run_job, run_worker

PASSWORD = "pw-hosted-services-3f1"
KEY = {"apiKey": "hosted-key-91ab", "secret": "hosted-secret-72cd", "passphrase": "hosted-pp-5e"}


def test_hosted_commands_need_a_broker_and_a_shared_database(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        require_hosted(Settings(home=tmp_path), command="worker")
    assert "KEYFOLIO_BROKER_URL" in caught.value.message and caught.value.exit_code == 2
    with pytest.raises(ConfigError) as caught:
        require_hosted(Settings(home=tmp_path, broker_url="redis://127.0.0.1:1/0"), command="x")
    assert "KEYFOLIO_DATABASE_URL" in caught.value.message


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    yield from one_btc_sandbox(KEY)


@pytest.fixture
def hosted_app(tmp_path: Path, sandbox_url: str) -> Iterator[App]:
    for url in fresh_pg_database():
        for namespace in fresh_namespace():
            settings = Settings(
                home=tmp_path / "home",
                retries=1,
                database_url=url,
                broker_url=REDIS_URL,
                broker_namespace=namespace,
                broker_heartbeat_seconds=2,
            )
            fields = okx_fields(KEY)  # two accounts on the same sandbox key
            app = linked_app(settings, PASSWORD, "okx", sandbox_url, fields, ["alice", "bob"])
            yield app
            app.close()


def _counts(app: App, name: str) -> tuple[int, int, list[tuple[str, int]]]:
    with app.db().session(read_only=True) as store:
        return (
            len(store.sync_runs(account=name)),
            len(store.snapshots.sets(account=name)),
            store.hosted.rounds(account=name),
        )


@needs_servers
def test_a_job_delivered_again_is_a_no_op(hosted_app: App) -> None:
    first = run_job(hosted_app, "alice", 7)
    assert (first.outcome, first.status) == ("synced", "ok")
    runs, sets, rounds = _counts(hosted_app, "alice")
    assert rounds == [("alice", 7)] and runs == 1 and sets > 0
    again = run_job(hosted_app, "alice", 7)
    assert again.outcome == "done"
    assert _counts(hosted_app, "alice") == (runs, sets, rounds)  # nothing written twice
    assert run_job(hosted_app, "ghost", 7).outcome == "gone"
    assert run_job(hosted_app, "alice", 8).outcome == "synced"  # the next round syncs again
    assert _counts(hosted_app, "alice")[0] == 2


@needs_servers
def test_a_job_whose_account_is_locked_elsewhere_does_nothing(hosted_app: App) -> None:
    from keyfolio.storage.hosted import account_lock

    with account_lock(hosted_app.db(), "bob") as got:  # another worker syncing bob
        assert got
        assert run_job(hosted_app, "bob", 3).outcome == "duplicate"
    assert _counts(hosted_app, "bob") == (0, 0, [])
    assert run_job(hosted_app, "bob", 3).outcome == "synced"  # the lock is free again


@needs_servers
async def test_a_worker_runs_the_rounds_jobs_once_each(hosted_app: App) -> None:
    stop = threading.Event()
    async with hosted_app.bus.subscribe(frozenset({"account.status"})) as events:
        sent = enqueue_round(hosted_app, round=42)
        enqueue_round(hosted_app, round=42)  # a second scheduler: duplicates
        assert sorted(sent) == ["alice", "bob"]
        worker = threading.Thread(
            target=run_worker, args=(hosted_app,), kwargs={"concurrency": 2, "stop": stop}
        )
        worker.start()
        try:
            seen: list[str] = []
            async with asyncio.timeout(60):
                while sorted(seen) != ["alice", "bob"]:
                    event = await events.get()
                    seen.append(event.data["account"])
            # The duplicates: wait until the queue is drained and nothing is being run.
            from keyfolio.services.hosted import hosted_broker

            broker = hosted_broker(hosted_app.settings).broker
            await asyncio.to_thread(broker.join, "keyfolio-sync", timeout=60_000)
        finally:
            stop.set()
            await asyncio.to_thread(worker.join)
    for name in ("alice", "bob"):
        runs, _sets, rounds = _counts(hosted_app, name)
        assert runs == 1 and rounds == [(name, 42)]
    assert events.dropped == 0


@needs_servers
def test_the_vault_lives_in_the_database_encrypted(hosted_app: App, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from keyfolio.errors import VaultDecryptError
    from keyfolio.vault.crypto import MAGIC

    hosted_app.vault()  # created by the fixture, in the database
    assert not (tmp_path / "home" / "vault.bin").exists()
    engine = create_engine(hosted_app.settings.db_url)
    try:
        with engine.connect() as connection:
            (blob,) = connection.execute(text("SELECT blob FROM vault_blobs")).one()
            dump = " ".join(
                str(row) for row in connection.execute(text("SELECT * FROM vault_blobs"))
            )
    finally:
        engine.dispose()
    assert bytes(blob).startswith(MAGIC)
    for secret in (*KEY.values(), PASSWORD):
        assert secret.encode() not in bytes(blob) and secret not in dump
    # Another machine (its own data directory) opens it with the password, and only with it.
    other = App(
        settings=replace(hosted_app.settings, home=tmp_path / "b"),
        password=lambda **_: PASSWORD,
    )
    assert other.vault().get("alice").fields["apiKey"] == KEY["apiKey"]
    other.vault().delete("bob")
    hosted_app.vault().refresh()  # a change made elsewhere is seen here
    assert hosted_app.vault().names() == ["alice"]
    other.close()
    wrong = App(settings=other.settings, password=lambda **_: "not-the-password")
    with pytest.raises(VaultDecryptError):
        wrong.vault()
    wrong.close()


@needs_servers
def test_a_job_someone_waits_for_waits_for_the_other_worker_then_syncs(hosted_app: App) -> None:
    from sqlalchemy import text

    from keyfolio.storage.hosted import account_lock

    results: list[Any] = []
    with account_lock(hosted_app.db(), "bob") as got:  # another worker syncing bob
        assert got
        waiting = threading.Thread(
            target=lambda: results.append(run_job(hosted_app, "bob", -5, wait=True))
        )
        waiting.start()
        engine = hosted_app.db()._get_engine()
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        while waiting.is_alive():  # until the job's connection waits for the lock
            with engine.connect() as connection:
                if connection.execute(query).scalar():
                    break
        assert not results
    waiting.join()
    assert [(r.outcome, r.status) for r in results] == [("synced", "ok")]
    assert results[0].report["accounts"][0]["name"] == "bob"
    assert _counts(hosted_app, "bob")[2] == [("bob", -5)]


@needs_servers
def test_old_rounds_are_forgotten_and_recent_own_rounds_kept(hosted_app: App) -> None:
    import time

    from keyfolio.services.hosted import own_round

    now = time.time()
    recent, old = own_round(now), own_round(now - 2 * 86_400)
    with hosted_app.db().session() as store:
        for number in (5, 200, recent, old):
            store.hosted.mark_round(account="alice", round=number)
    with hosted_app.db().session() as store:
        store.hosted.forget_rounds(before=100, own_older_than=own_round(now - 86_400))
    assert sorted(r for _, r in _counts(hosted_app, "alice")[2]) == [recent, 200]


@needs_servers
async def test_a_worker_started_before_the_vault_waits_for_it(
    tmp_path: Path, sandbox_url: str
) -> None:
    for url in fresh_pg_database():
        for namespace in fresh_namespace():
            settings = Settings(
                home=tmp_path / "w", retries=1, database_url=url, broker_url=REDIS_URL,
                broker_namespace=namespace,
            )  # fmt: skip
            app = App(settings=settings, password=lambda **_: PASSWORD)
            stop, waiting = threading.Event(), threading.Event()
            worker = threading.Thread(
                target=run_worker,
                args=(app,),
                kwargs={"concurrency": 1, "stop": stop, "waiting": waiting.set},
            )
            worker.start()
            try:
                await asyncio.to_thread(waiting.wait)  # no vault yet: the worker says so
                admin = App(settings=replace(settings, home=tmp_path / "a"),
                            password=lambda **_: PASSWORD)  # fmt: skip
                with admin.db().session() as store:
                    spec = AccountSpec(exchange="okx", name="alice", api_url=sandbox_url)
                    store.add_account(spec=spec)
                fields = {"apiKey": KEY["apiKey"], "secret": KEY["secret"]}
                admin.vault(create=True).set(
                    "alice", Credentials(fields={**fields, "password": KEY["passphrase"]})
                )
                async with app.bus.subscribe(frozenset({"account.status"})) as events:
                    enqueue_round(admin, round=9)
                    async with asyncio.timeout(120):
                        event = await events.get()
                assert (event.data["account"], event.data["status"]) == ("alice", "ok")
                admin.close()
            finally:
                stop.set()
                await asyncio.to_thread(worker.join)
                app.close()
