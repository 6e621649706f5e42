"""Hosted mode's events cross processes through Redis pub/sub (a real Redis server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hosted_support import REDIS_URL, fresh_namespace

from keyfolio.config import Settings
from keyfolio.services.events import EventBus
from keyfolio.services.hosted_events import EventRelay

needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="set KEYFOLIO_TEST_REDIS_URL to run the hosted-mode event tests "
    "(scripts/redis_test_server.sh)",
)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    for namespace in fresh_namespace():
        yield Settings(home=tmp_path, broker_url=REDIS_URL, broker_namespace=namespace)


@needs_redis
async def test_a_workers_events_reach_a_server_and_only_relayed_types(settings: Settings) -> None:
    worker_bus, server_bus = EventBus(), EventBus()
    worker = EventRelay(settings, worker_bus, receive=False)
    server = EventRelay(settings, server_bus, receive=True)
    server.start()
    worker.start()
    try:
        async with server_bus.subscribe() as events:
            worker_bus.publish("vault.status", {"unlocked": False, "reason": "idle"})  # local
            status = {"account": "alice", "status": "ok", "error": None, "hint": None}
            worker_bus.publish("account.status", {**status, "source": None})
            update = {"portfolio": "main", "account": "alice", "reason": "sync"}
            worker_bus.publish("portfolio.updated", update)
            async with asyncio.timeout(30):
                first, second = await events.get(), await events.get()
            assert (first.type, first.data["account"]) == ("account.status", "alice")
            assert (second.type, second.data) == ("portfolio.updated", update)
            # The server's own events are not echoed back to it by the relay.
            server_bus.publish("portfolio.updated", {**update, "reason": "link"})
            worker_bus.publish("portfolio.updated", {**update, "reason": "trade"})
            async with asyncio.timeout(30):
                mine, theirs = await events.get(), await events.get()
            assert mine.data["reason"] == "link" and theirs.data["reason"] == "trade"
        assert events.dropped == 0
    finally:
        worker.close()
        server.close()


@needs_redis
async def test_another_namespace_hears_nothing(settings: Settings) -> None:
    other = replace(settings, broker_namespace=settings.broker_namespace + "-b")
    sender_bus, far_bus, near_bus = EventBus(), EventBus(), EventBus()
    sender = EventRelay(settings, sender_bus, receive=False)
    far = EventRelay(other, far_bus, receive=True)
    near = EventRelay(settings, near_bus, receive=True)
    for relay in (far, near, sender):
        relay.start()
    try:
        async with far_bus.subscribe() as far_events, near_bus.subscribe() as near_events:
            sender_bus.publish(
                "portfolio.updated", {"portfolio": "p", "account": "a", "reason": "x"}
            )
            async with asyncio.timeout(30):
                await near_events.get()
            # far's own event arrives through its relay, after anything sent before it.
            far_bus.publish("portfolio.updated", {"portfolio": "q", "account": "b", "reason": "y"})
            other_bus = EventBus()
            other_sender = EventRelay(other, other_bus, receive=False)
            other_sender.start()
            other_bus.publish(
                "portfolio.updated", {"portfolio": "q", "account": "c", "reason": "z"}
            )
            other_sender.close()
            async with asyncio.timeout(30):
                got = [await far_events.get(), await far_events.get()]
            assert [event.data["account"] for event in got] == ["b", "c"]
    finally:
        for relay in (sender, far, near):
            relay.close()
