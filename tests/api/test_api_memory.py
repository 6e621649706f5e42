"""`keyfolio serve` keeps nothing per request (issue 14: its memory must not grow between the
1,000th and the 10,000th API request).

The server runs for real (uvicorn in a thread, one keep-alive connection, two linked accounts)
and answers the dashboard's requests, the mix of ``bench/memory.py``. The test counts objects,
never bytes: the live objects of every type the garbage collector tracks (a kept request, an
event, a subscriber, a cache entry, a closed connection still referenced) and the memory
blocks Python has allocated (``sys.getallocatedblocks()``, which also counts the strings and
numbers a dict or list would keep). After a warm-up (the caches fill: SQLAlchemy's compiled
statements, sqlite3's prepared ones per pooled connection), another round of requests must
not add to either: something kept per request would add one or more for each.

One kind is left out of both counts: dead weak references. Each sqlite3 connection keeps a
weak reference to every cursor it made and prunes the dead ones only every 200 cursors
(CPython's ``_sqlite`` module), so their number swings by up to 200 per pooled connection
between two counts; bounded, and not keyfolio's.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import BOB_KEY, PASSWORD, READ_KEY, body

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings

PATHS = (
    "/api/v1/summary",
    *("/api/v1/accounts", "/api/v1/portfolios", "/api/v1/health", "/api/v1/vault") * 4,
    "/api/v1/history?window=30d",
)
"""The dashboard's requests, as bench/memory.py sends them: a summary and a history in 18."""

ROUND = 60 * len(PATHS)
"""Requests per measured round (1,080): each endpoint at least 60 times, so that one object
kept per request of even the rarest one (the summary) stands out of the counts' noise (a type's
count moves by 1 or 2 between two rounds, the allocated blocks by up to ~60)."""


@pytest.fixture
def served(tmp_path: Path, sandbox_url: str) -> Iterator[tuple[httpx.Client, ServerThread]]:
    settings = Settings(home=tmp_path / "home", poll_seconds=3600)  # no polling sync meanwhile
    with ServerThread(settings, password=PASSWORD, live=False) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for name, key in (("alice", READ_KEY), ("bob", BOB_KEY)):
                linked = client.post("/api/v1/accounts", json=body(key, name=name, url=sandbox_url))
                assert linked.status_code == 201, linked.text
            yield client, server


def _requests(client: httpx.Client, count: int) -> None:
    for i in range(count):
        response = client.get(PATHS[i % len(PATHS)])
        assert response.status_code == 200, response.text


def _objects() -> Counter[type]:
    """Live objects by type: those the collector tracks, but dead weak references."""
    gc.collect()
    return Counter(
        type(obj) for obj in gc.get_objects() if not (type(obj) is weakref.ref and obj() is None)
    )


def _blocks() -> int:
    """Python's allocated memory blocks, but dead weak references."""
    gc.collect()
    dead = sum(1 for obj in gc.get_objects() if type(obj) is weakref.ref and obj() is None)
    return sys.getallocatedblocks() - dead


def test_the_dashboards_requests_leave_no_objects_behind(
    served: tuple[httpx.Client, ServerThread],
) -> None:
    client, server = served
    _requests(client, ROUND)  # warm-up: caches fill, the pool opens its connections
    _objects()  # and counting itself: its first run leaves a few of its own behind
    before = _objects()
    blocks_before = _blocks()  # with `before` alive, as at the second count
    _requests(client, ROUND)
    blocks = _blocks() - blocks_before
    after = _objects()

    grown = {kind.__qualname__: after[kind] - before[kind] for kind in after - before}
    print(f"after {ROUND} more requests: {grown}, {blocks:+} blocks")
    kept = {kind: n for kind, n in grown.items() if n >= 20}
    assert not kept, f"objects kept per request ({ROUND} requests): {kept}"
    assert blocks < ROUND // 8, f"{blocks} more memory blocks after {ROUND} requests"
