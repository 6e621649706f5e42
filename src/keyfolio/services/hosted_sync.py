"""`keyfolio sync` in hosted mode: one job per account to the workers, then their results.

The jobs of one on-demand sync share a round of their own (a negative number, never one of the
scheduler's), so they neither skip nor replace a scheduled round. They ask for a reply: the
worker that runs one waits for the account if another worker is syncing it, syncs, and pushes
the account's report (as `keyfolio sync --json` prints it) to the Redis list
``<namespace>:results:<round>``, which expires after :data:`RESULT_TTL_SECONDS`. The sender
waits on that list (``BLPOP``), never on a clock.

While it waits it watches the workers' heartbeats (Dramatiq's ``<namespace>:__heartbeats__``,
a timestamp per worker, renewed at least twice a second by an idle worker and at every job's
end by a busy one): once no worker has sent one for ``KEYFOLIO_BROKER_HEARTBEAT_SECONDS`` it
stops with :class:`~keyfolio.errors.NoWorkerError`. The jobs stay queued and run when a worker
starts. A job that fails with an error replies with it at once (Dramatiq still retries it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from keyfolio.config import Settings
from keyfolio.errors import InternalError, KeyfolioError, NotFoundError, NoWorkerError
from keyfolio.services.context import App

if TYPE_CHECKING:
    import redis

    from keyfolio.services.hosted import JobResult

__all__ = [
    "RESULT_TTL_SECONDS",
    "SentSync",
    "live_workers",
    "reply_failure",
    "reply_result",
    "send_sync",
    "wait_for_results",
]

logger = logging.getLogger(__name__)

RESULT_TTL_SECONDS = 3600
_CHECK_SECONDS = 1.0
"""How long one ``BLPOP`` waits before the heartbeats are looked at again."""


@dataclass(frozen=True)
class SentSync:
    """The jobs of one on-demand sync: their round and the accounts, in order."""

    round: int
    names: list[str]


def _results_key(settings: Settings, round: int) -> str:
    return f"{settings.broker_namespace}:results:{round}"


def _client(settings: Settings) -> redis.Redis:
    import redis

    assert settings.broker_url, "hosted mode only"
    return redis.Redis.from_url(settings.broker_url)


def send_sync(app: App, names: list[str] | None, *, history: bool = True) -> SentSync:
    """Send one job per account (default: every account that is not entered by hand), each
    asking for a reply. An unknown name raises :class:`NotFoundError`; nothing is sent then."""
    from keyfolio.services.hosted import hosted_broker, own_round, require_hosted

    require_hosted(app.settings, command="sync")
    with app.db().session(read_only=True) as store:
        specs = {spec.name: spec for spec in store.list_accounts()}
    if names is None:
        chosen = [name for name, spec in specs.items() if not spec.is_manual]
    else:
        missing = [name for name in names if name not in specs]
        if missing:
            raise NotFoundError(
                f"no account named {', '.join(repr(n) for n in missing)}",
                hint="`keyfolio account list` lists the linked accounts.",
            )
        chosen = [name for name in dict.fromkeys(names) if not specs[name].is_manual]
    number = own_round()
    actor = hosted_broker(app.settings).actor
    for name in chosen:
        actor.send_with_options(args=(name, number), kwargs={"history": history, "reply": True})
    logger.info("sent %d sync jobs (round %d) and wait for their results", len(chosen), number)
    return SentSync(number, chosen)


def live_workers(settings: Settings, client: redis.Redis | None = None) -> tuple[int, float]:
    """How many workers sent a heartbeat within ``KEYFOLIO_BROKER_HEARTBEAT_SECONDS``, and
    the time (epoch seconds) of the latest heartbeat of any worker (0 when none ever did)."""
    own = client is None
    client = client or _client(settings)
    try:
        key = f"{settings.broker_namespace}:__heartbeats__"
        latest = cast(list[tuple[bytes, float]], client.zrevrange(key, 0, 0, withscores=True))
        since = (time.time() - settings.broker_heartbeat_seconds) * 1000
        alive = cast(int, client.zcount(key, since, "+inf"))
    finally:
        if own:
            client.close()
    return alive, (float(latest[0][1]) / 1000 if latest else 0.0)


def wait_for_results(
    app: App,
    sent: SentSync,
    *,
    on_result: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Wait for every job of ``sent`` to reply; their reports merged (accounts in the order
    sent). ``on_result(name, status)`` is called as each one arrives. Raises
    :class:`NoWorkerError` when no worker is alive to run what is left. Setting ``stop``
    (a server shutting down) ends the wait within a second, with what arrived."""
    settings = app.settings
    key = _results_key(settings, sent.round)
    pending = set(sent.names)
    replies: dict[str, dict[str, Any]] = {}
    client = _client(settings)
    started = time.time()
    try:
        while pending and not (stop is not None and stop.is_set()):
            popped = cast(tuple[bytes, bytes] | None, client.blpop([key], timeout=_CHECK_SECONDS))
            if popped is None:
                _check_workers(settings, client, started, len(pending))
                continue
            reply = json.loads(popped[1])
            name = reply["account"]
            if name not in pending:
                continue  # a retried job's second reply
            pending.discard(name)
            replies[name] = reply
            if on_result is not None:
                on_result(name, _status(reply))
    finally:
        client.close()
    return _merge([replies[name] for name in sent.names if name in replies])


def _check_workers(settings: Settings, client: redis.Redis, started: float, left: int) -> None:
    alive, latest = live_workers(settings, client)
    if alive or time.time() - max(latest, started) < settings.broker_heartbeat_seconds:
        return
    from keyfolio.services.hosted import queue_depth

    seconds = f"{settings.broker_heartbeat_seconds:g}"
    raise NoWorkerError(
        f"no keyfolio worker is running: none has sent a heartbeat to Redis for {seconds} s, "
        f"and {left} sync job(s) are still waiting ({queue_depth(settings)} in the queue)",
    )


def _status(reply: dict[str, Any]) -> str:
    if reply["report"] is None:
        return "removed" if reply["outcome"] == "gone" else str(reply["outcome"])
    accounts = reply["report"]["accounts"]
    return str(accounts[0]["status"]) if accounts else "failed"


def _merge(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """One report, as a local sync of all these accounts would have made it."""
    merged: dict[str, Any] = {"accounts": [], "prices_error": None, "history": []}
    for reply in replies:
        report = reply["report"]
        if report is None:
            continue  # the account was removed since the job was sent: nothing to report
        merged["accounts"].extend(report["accounts"])
        merged["history"].extend(report["history"])
        merged["prices_error"] = merged["prices_error"] or report["prices_error"]
    return merged


def _push(settings: Settings, round: int, reply: dict[str, Any]) -> None:
    import redis

    key = _results_key(settings, round)
    client = _client(settings)
    try:
        with client.pipeline() as pipe:
            pipe.rpush(key, json.dumps(reply))
            pipe.expire(key, RESULT_TTL_SECONDS)
            pipe.execute()
    except redis.RedisError as exc:  # the sync is committed; the sender sees it in `show`
        logger.warning("could not send the result of %s to its sender: %s", reply["account"], exc)
    finally:
        client.close()


def reply_result(settings: Settings, result: JobResult) -> None:
    """A worker's reply for a finished job (its report, or that the account is gone)."""
    reply = {"account": result.account, "outcome": result.outcome, "report": result.report}
    _push(settings, result.round, reply)


def reply_failure(settings: Settings, name: str, round: int, exc: BaseException) -> None:
    """A worker's reply for a job that raised: its error, or a bug (whose traceback the
    worker's log has), as the account's failure."""
    error = (
        exc
        if isinstance(exc, KeyfolioError)
        else InternalError.from_bug(exc, doing=f"syncing {name}")
    )
    account = {
        "name": name,
        "status": "failed",
        "error": error.message,
        "hint": error.hint,
        "code": error.code,
        "sources": [],
    }
    report = {"accounts": [account], "prices_error": None, "history": []}
    _push(settings, round, {"account": name, "outcome": "failed", "report": report})
