"""Hosted mode: sync jobs on Dramatiq over Redis, run by `keyfolio worker` processes.

`keyfolio scheduler` enqueues one job per account per round (:func:`enqueue_round`); a round is
the number of the scheduler's interval since the epoch, so a restarted or second scheduler
sends the same round again and its jobs are no-ops. A job carries the account's name and the
round, nothing else: a worker reads the credentials from the vault (its ciphertext is in the
database) with its own password.

Jobs sent now rather than by the scheduler (`keyfolio sync`, a server's link or Sync button)
get a round of their own (:func:`own_round`, negative); those of `keyfolio sync` and the Sync
button ask for a reply, which :mod:`keyfolio.services.hosted_sync` waits for.

At least once, done once (:func:`run_job`):

- the job takes the account's PostgreSQL advisory lock without waiting; a duplicate that finds
  it taken does nothing (the lock dies with its connection, so a killed worker holds nothing);
- a round already marked done does nothing;
- the sync writes the round's marker in the same transaction as its snapshots, and Dramatiq
  acknowledges the message only after the job returned. A worker killed before that commit
  leaves its message unacknowledged; after ``KEYFOLIO_BROKER_HEARTBEAT_SECONDS`` without its
  heartbeat another worker takes the message again and the sync runs once, whole.

Dramatiq and redis are imported here only, inside functions (`pip install 'keyfolio[hosted]'`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyfolio.config import Settings
from keyfolio.errors import ConfigError, NotFoundError
from keyfolio.services.context import App

if TYPE_CHECKING:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

__all__ = [
    "ACTOR_NAME",
    "QUEUE",
    "JobResult",
    "enqueue_now",
    "enqueue_round",
    "own_round",
    "hosted_broker",
    "queue_depth",
    "require_hosted",
    "round_of",
    "run_job",
    "run_scheduler",
    "run_worker",
]

logger = logging.getLogger(__name__)

QUEUE = "keyfolio-sync"
ACTOR_NAME = "keyfolio_sync_account"
MAX_RETRIES = 5
JOB_TIME_LIMIT_MS = 15 * 60 * 1000
_MAINTENANCE_CHANCE = 100_000  # of 1,000,000 fetches: a dead worker's jobs come back soon
_VAULT_CHECK_SECONDS = 2.0  # a worker started before the first account looks this often
_INSTALL_HINT = "Install the hosted extra: `pip install 'keyfolio[hosted]'` (docs/deploy.md)."


def require_hosted(settings: Settings, *, command: str) -> None:
    """Refuse ``command`` outside hosted mode, or without the hosted extra installed."""
    if not settings.is_hosted:
        raise ConfigError(
            f"`keyfolio {command}` runs in hosted mode only, and KEYFOLIO_BROKER_URL is not set",
            hint="Set KEYFOLIO_BROKER_URL (e.g. redis://127.0.0.1:6379/0) and "
            "KEYFOLIO_DATABASE_URL (the shared PostgreSQL); see docs/deploy.md. Without them "
            "`keyfolio sync` and `keyfolio serve` sync in their own process.",
        )
    if not settings.database_url:
        raise ConfigError(
            "hosted mode needs a shared database, and KEYFOLIO_DATABASE_URL is not set",
            hint="Set KEYFOLIO_DATABASE_URL to the PostgreSQL database every machine uses, "
            "e.g. postgresql+psycopg://keyfolio@db-host/keyfolio (docs/deploy.md).",
        )
    try:
        import dramatiq  # noqa: F401
        import redis  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"hosted mode needs the package {exc.name}, which is not installed",
            hint=_INSTALL_HINT,
        ) from None


@dataclass
class _Hosted:
    broker: RedisBroker
    actor: dramatiq.Actor[..., None]


_hosted: dict[str, _Hosted] = {}
_hosted_lock = threading.Lock()
_worker_app: App | None = None


def hosted_broker(settings: Settings) -> _Hosted:
    """This process's Dramatiq broker on ``KEYFOLIO_BROKER_URL`` and the sync actor on it."""
    url = settings.broker_url
    assert url, "require_hosted() first"
    key = f"{settings.broker_namespace}@{url}"
    with _hosted_lock:
        found = _hosted.get(key)
        if found is not None:
            return found
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            namespace=settings.broker_namespace,
            heartbeat_timeout=round(settings.broker_heartbeat_seconds * 1000),
            maintenance_chance=_MAINTENANCE_CHANCE,
        )
        dramatiq.set_broker(broker)
        actor: dramatiq.Actor[..., None] = dramatiq.actor(
            actor_name=ACTOR_NAME,
            queue_name=QUEUE,
            broker=broker,
            max_retries=MAX_RETRIES,
            min_backoff=1000,
            max_backoff=60_000,
            time_limit=JOB_TIME_LIMIT_MS,
        )(_sync_job)
        found = _hosted[key] = _Hosted(broker, actor)
        return found


def round_of(interval: float, now: float | None = None) -> int:
    """The round number of the moment ``now`` for a scheduler running every ``interval`` s."""
    return int((time.time() if now is None else now) // interval)


def enqueue_round(app: App, *, round: int, jitter: float = 0.0) -> list[str]:
    """Send one sync job per (non-manual) account for ``round``; the names sent.

    Each job is delayed by a random 0..``jitter`` seconds, so the accounts' requests spread
    over the interval instead of hitting the venues at once.
    """
    hosted = hosted_broker(app.settings)
    with app.db().session(read_only=True) as store:
        names = [spec.name for spec in store.list_accounts() if not spec.is_manual]
    for name in names:
        delay = round_ms(random.uniform(0, jitter)) if jitter > 0 else None  # noqa: S311
        hosted.actor.send_with_options(args=(name, round), delay=delay)
    logger.info("round %d: enqueued %d sync jobs", round, len(names))
    return names


def own_round(now: float | None = None) -> int:
    """A round of its own for jobs sent now rather than by the scheduler: minus the time in
    microseconds, so it is never one of the scheduler's, nor another sender's."""
    return -int((time.time() if now is None else now) * 1_000_000)


def enqueue_now(app: App, names: list[str] | None = None) -> list[str]:
    """Sync these accounts (default: every non-manual one) as soon as a worker is free.

    Such jobs get a round of their own (:func:`own_round`), so they neither skip nor replace a
    scheduled round."""
    hosted = hosted_broker(app.settings)
    if names is None:
        with app.db().session(read_only=True) as store:
            names = [spec.name for spec in store.list_accounts() if not spec.is_manual]
    number = own_round()
    for name in names:
        hosted.actor.send(name, number)
    logger.info("sent %d sync jobs to run now", len(names))
    return names


def round_ms(seconds: float) -> int:
    return int(seconds * 1000)


def queue_depth(settings: Settings) -> int:
    """Jobs waiting in the queue now (not counting delayed ones or those being run)."""
    import redis

    assert settings.broker_url, "require_hosted() first"
    client = redis.Redis.from_url(settings.broker_url)
    try:
        return int(client.llen(f"{settings.broker_namespace}:{QUEUE}"))  # type: ignore[arg-type]
    finally:
        client.close()


@dataclass(frozen=True)
class JobResult:
    """What one job did: ``synced`` (with the account's status and its sync report as JSON),
    ``duplicate`` (the account is being synced by another worker), ``done`` (the round was
    finished already) or ``gone`` (the account was removed since the job was sent)."""

    account: str
    round: int
    outcome: str
    status: str | None = None
    report: dict[str, Any] | None = None


def run_job(
    app: App, name: str, round: int, *, history: bool = True, wait: bool = False
) -> JobResult:
    """Sync account ``name`` for ``round`` once, whatever the number of deliveries.

    With ``wait`` (a user waits for this sync: `keyfolio sync` in hosted mode) a job whose
    account is being synced by another worker waits for that sync to end, then syncs."""
    from keyfolio.services.sync import sync_accounts
    from keyfolio.storage.hosted import account_lock

    db = app.db()
    with account_lock(db, name, wait=wait) as got:
        if not got:
            logger.info("job %s round %d: another worker is syncing it; nothing to do", name, round)
            return JobResult(name, round, "duplicate")
        with db.session(read_only=True) as store:
            if store.hosted.round_done(account=name, round=round):
                logger.info("job %s round %d: done already; nothing to do", name, round)
                return JobResult(name, round, "done")
        logger.info("job %s round %d: syncing", name, round)
        try:
            report = asyncio.run(
                sync_accounts(
                    app,
                    names=[name],
                    history=history,
                    commit_with=lambda store: store.hosted.mark_round(account=name, round=round),
                )
            )
        except NotFoundError:
            logger.info("job %s round %d: the account no longer exists", name, round)
            return JobResult(name, round, "gone")
    status = report.outcomes[0].status if report.outcomes else None
    logger.info("job %s round %d: synced (%s)", name, round, status)
    return JobResult(name, round, "synced", status, report.to_json())


def _sync_job(name: str, round: int, history: bool = True, reply: bool = False) -> None:
    """The Dramatiq actor: one account, one round (runs in a `keyfolio worker`). With
    ``reply`` its result goes to the Redis list the sender waits on (`keyfolio sync`)."""
    app = _worker_app
    if app is None:  # a message reached a process that is not a keyfolio worker
        raise RuntimeError("keyfolio sync jobs run in `keyfolio worker` only")
    if not reply:
        run_job(app, name, round, history=history)
        return
    from keyfolio.services.hosted_sync import reply_failure, reply_result

    try:
        result = run_job(app, name, round, history=history, wait=True)
    except Exception as exc:  # the sender hears of it now; Dramatiq retries the job
        reply_failure(app.settings, name, round, exc)
        raise
    reply_result(app.settings, result)


def _vault_ready(app: App, stop: threading.Event, waiting: Callable[[], None] | None) -> bool:
    """Whether the vault exists, once it does: before the first account is linked there is none
    yet (and no job either); wait for it, looking every few seconds. False: stopped first."""
    if app.has_vault():
        return True
    logger.info("no vault in the database yet: waiting until the first account is linked")
    if waiting is not None:
        waiting()
    while not stop.wait(_VAULT_CHECK_SECONDS):
        if app.has_vault():
            logger.info("the vault was created: opening it")
            return True
    return False


def _started(app: App, stop: threading.Event, waiting: Callable[[], None] | None) -> bool:
    """Open the database and the vault, waiting for the vault if there is none yet; False as
    soon as ``stop`` is set, so a worker stopped while it starts takes no job."""
    if stop.is_set():
        return False
    app.db()
    if stop.is_set() or not _vault_ready(app, stop, waiting):
        return False
    app.vault()
    return not stop.is_set()


def run_worker(
    app: App,
    *,
    concurrency: int,
    stop: threading.Event,
    waiting: Callable[[], None] | None = None,
) -> None:
    """Run sync jobs on ``concurrency`` threads until ``stop`` is set.

    The vault is opened first (the password from ``KEYFOLIO_PASSWORD`` or
    ``KEYFOLIO_PASSWORD_FILE``), so a wrong password fails here, not in every job. Before the
    first account is linked there is no vault yet: the worker waits for it (``waiting()`` is
    called once then), so workers can be started before anything is linked.

    ``stop`` may be set at any moment: during start-up the worker returns before it takes a
    job; afterwards the jobs in progress finish (their syncs commit, their messages are
    acknowledged) and the ones fetched but not started go back to the queue.
    """
    global _worker_app
    from dramatiq import Worker

    require_hosted(app.settings, command="worker")
    if not _started(app, stop, waiting):
        logger.info("worker stopped before taking any job")
        return
    from keyfolio.services.hosted_events import EventRelay

    hosted = hosted_broker(app.settings)
    relay = EventRelay(app.settings, app.bus, receive=False)
    relay.start()
    budget = None
    if app.settings.rate_limits:
        from keyfolio.services.rate_budget import SharedRateBudget

        app.rate_budget = budget = SharedRateBudget(app.settings)
    _worker_app = app
    worker = Worker(hosted.broker, queues={QUEUE}, worker_threads=concurrency, worker_timeout=500)
    worker.start()
    logger.info("worker started: %d threads on queue %s", concurrency, QUEUE)
    try:
        stop.wait()
    finally:
        worker.stop(timeout=JOB_TIME_LIMIT_MS)
        hosted.broker.close()
        with _hosted_lock:
            _hosted.pop(f"{app.settings.broker_namespace}@{app.settings.broker_url}", None)
        relay.close()
        if budget is not None:
            app.rate_budget = None
            budget.close()
        _worker_app = None
        logger.info("worker stopped")


def run_scheduler(
    app: App,
    *,
    interval: float,
    jitter: float,
    stop: threading.Event,
    once: bool = False,
    sent: Callable[[int, list[str]], None] | None = None,
) -> None:
    """Enqueue a round at the start of every ``interval`` until ``stop`` (or one, ``once``)."""
    require_hosted(app.settings, command="scheduler")
    app.db()
    while not stop.is_set():
        number = round_of(interval)
        names = enqueue_round(app, round=number, jitter=jitter)
        if sent is not None:
            sent(number, names)
        if once:
            return
        with app.db().session() as store:
            day_ago = own_round(time.time() - 86_400)
            store.hosted.forget_rounds(before=number - 100, own_older_than=day_ago)
        stop.wait((number + 1) * interval - time.time())
