"""Where `keyfolio serve`'s memory goes between API requests: the diagnosis behind the memory
section of docs/benchmarks.md (not part of `make bench`; about 10 minutes on a quiet box).

The same server as ``bench/memory.py`` (50 OKX accounts on a sandbox subprocess, the live
engine, the vault unlocked), but in this process (``ServerThread``), so that after 1,000,
5,000, 10,000 and 20,000 of the same requests it can read, next to the resident size:

* the live objects the garbage collector tracks, and Python's allocated memory blocks
  (``sys.getallocatedblocks``): what the code keeps;
* pymalloc's arenas (1 MiB each) and glibc's heap, in use and free (``mallinfo2``): what the
  allocators hold on to for what the code keeps;
* SQLite's own memory (``sqlite3_memory_used``: page caches and prepared statements).

``--trace`` instead traces every allocation (``tracemalloc``, which slows the server about
five times and adds its own memory to the resident size), stops after 10,000 requests and
prints the allocation sites that grew most from the 1,000th to the 10,000th.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import http.client
import os
import re
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _cli import PASSWORD, link_accounts, load, run
from _sandbox import sandbox, venue_state
from memory import ACCOUNTS, CHECKPOINTS, requests

MIB = 1024 * 1024
Site = tuple[str, int]


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
            *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _glibc_heap() -> str:
    """glibc's heap (all arenas): in use, and free but kept."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return "glibc heap n/a"
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return f"glibc heap in use {info.uordblks / MIB:5.1f}, free {info.fordblks / MIB:4.1f}"


def _sqlite_memory() -> str:
    import _sqlite3

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):  # SQLite linked in statically
        return "SQLite n/a"
    used.restype = ctypes.c_int64
    return f"SQLite {used() / MIB:4.2f}"


def _pymalloc_arenas() -> str:
    """pymalloc's arenas in use (``sys._debugmallocstats`` writes them to fd 2)."""
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    found = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
    return f"pymalloc {found.group(1)} arenas" if found else "pymalloc n/a (traced)"


def _rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _census(done: int) -> None:
    gc.collect()
    objects = len(gc.get_objects())
    print(
        f"{done:>6,} requests: RSS {_rss():6.1f} MiB | {objects:,} objects, "
        f"{sys.getallocatedblocks():,} blocks | {_pymalloc_arenas()} | "
        f"{_glibc_heap()} | {_sqlite_memory()} MiB",
        flush=True,
    )


def _sites() -> dict[Site, tuple[int, int]]:
    """Traced memory by allocation site: (bytes, blocks)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    )
    return {
        (stat.traceback[0].filename, stat.traceback[0].lineno): (stat.size, stat.count)
        for stat in snapshot.statistics("lineno")
    }


def _print_growth(first: dict[Site, tuple[int, int]], last: dict[Site, tuple[int, int]]) -> None:
    growth = {
        site: (size - first.get(site, (0, 0))[0], count - first.get(site, (0, 0))[1])
        for site, (size, count) in last.items()
    }
    total = sum(size for size, _ in growth.values())
    print(f"traced memory, last checkpoint minus first: {total / 1024:+.1f} KiB; largest sites:")
    for (filename, lineno), (size, count) in sorted(growth.items(), key=lambda g: -g[1][0])[:12]:
        print(f"  {size / 1024:+8.1f} KiB {count:+6} blocks  {filename}:{lineno}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", action="store_true", help="trace allocations (slow)")
    args = parser.parse_args()
    print(load())
    state, credentials = venue_state("okx", ACCOUNTS)
    with tempfile.TemporaryDirectory() as tmp, sandbox(state, latency_ms=0) as url:
        home = Path(tmp) / "home"
        link_accounts(home, [("okx", f"acct{i:02d}", url, credentials[i]) for i in range(ACCOUNTS)])
        run(home, "sync", "--no-history")

        from keyfolio.api.server import ServerThread
        from keyfolio.config import Settings
        from keyfolio.logging import setup_logging

        settings = Settings(home=home)
        setup_logging(log_file=settings.log_path)  # as `keyfolio serve` does
        if args.trace:
            tracemalloc.start()
        sites: list[dict[Site, tuple[int, int]]] = []
        with ServerThread(settings, password=PASSWORD) as server:
            port = int(server.url.rsplit(":")[-1])
            done = 0
            start = time.perf_counter()
            for target in (1_000, 10_000) if args.trace else CHECKPOINTS:
                # a new keep-alive connection per batch: counting can outlast uvicorn's 5 s idle
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                requests(connection, target - done, done)
                connection.close()
                done = target
                _census(done)
                if args.trace:
                    traced, _ = tracemalloc.get_traced_memory()
                    print(f"        traced {traced / MIB:.2f} MiB", flush=True)
                    sites.append(_sites())
        if sites:
            _print_growth(sites[0], sites[-1])
    print(f"{load()} at the end; {time.perf_counter() - start:.0f} s of requests")


if __name__ == "__main__":
    main()
