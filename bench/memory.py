"""Peak memory: a 50-account `keyfolio sync`, and `keyfolio serve` after 1,000, 5,000, 10,000
and 20,000 API requests (it must not grow between the 1,000th and the 10,000th; the 20,000th
shows whether what it gained levels off).

The sandbox answers without injected latency (memory does not depend on it). The sync's peak
RSS is its ``ru_maxrss``; the server's resident size (split into anonymous memory and
file-backed pages, the code of the libraries it has run so far) and its peak come from
``/proc/PID/status`` (Linux) after each batch of requests, over one keep-alive connection,
cycling through the dashboard's endpoints (:data:`PATHS`). Where the server's memory goes, and
why a resident size that rises a little is not a leak, is in docs/benchmarks.md ("Memory").
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _cli import KEYFOLIO, env, link_accounts, load, peak_rss_mib, run
from _sandbox import sandbox, venue_state

ACCOUNTS = 50
PATHS = (
    "/api/v1/summary",
    *("/api/v1/accounts", "/api/v1/portfolios", "/api/v1/health", "/api/v1/vault") * 4,
    "/api/v1/history?window=30d",
)
"""The dashboard's requests: a summary and a history in every 18 (they cost ~40 ms each with
50 accounts; the whole cycle keeps the run near a minute on a quiet 2-core box)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CHECKPOINTS = (1_000, 5_000, 10_000, 20_000)
"""After how many requests the server's memory is read."""

Row = tuple[int, float, float, float, float]
"""(requests, resident, of which anonymous, of which file-backed, peak resident), in MiB."""


def status_mib(pid: int) -> tuple[float, float, float, float]:
    """(resident now, anonymous, file-backed, peak resident) of a process, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    kib = [int(fields[name].split()[0]) for name in ("VmRSS", "RssAnon", "RssFile", "VmHWM")]
    return kib[0] / 1024, kib[1] / 1024, kib[2] / 1024, kib[3] / 1024


def requests(connection: http.client.HTTPConnection, count: int, offset: int) -> None:
    for i in range(offset, offset + count):
        connection.request("GET", PATHS[i % len(PATHS)])
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{PATHS[i % len(PATHS)]} answered {response.status}")


def serve(home: Path) -> list[Row]:
    port = free_port()
    proc = subprocess.Popen(
        [KEYFOLIO, "serve", "--port", str(port)],
        env=env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[Row] = []
    try:
        deadline = time.monotonic() + 120
        while True:  # until the server answers
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", "/api/v1/health")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("keyfolio serve did not start") from None
                time.sleep(0.2)
        done = 0
        for target in CHECKPOINTS:
            requests(connection, target - done, done)
            done = target
            rows.append((done, *status_mib(proc.pid)))
        connection.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def main() -> None:
    before = load()
    start = time.perf_counter()
    state, credentials = venue_state("okx", ACCOUNTS)
    with tempfile.TemporaryDirectory() as tmp, sandbox(state, latency_ms=0) as url:
        home = Path(tmp) / "home"
        links = [("okx", f"acct{i:02d}", url, credentials[i]) for i in range(ACCOUNTS)]
        link_accounts(home, links)
        first = peak_rss_mib(home, "sync")
        steady = peak_rss_mib(home, "sync")
        run(home, "sync", "--no-history")
        rows = serve(home)
    print(f"{before} at start, {load()} at end; took {time.perf_counter() - start:.0f} s")
    print(f"keyfolio sync, {ACCOUNTS} accounts, first (full history): peak RSS {first:6.1f} MiB")
    print(f"keyfolio sync, {ACCOUNTS} accounts, nothing new:          peak RSS {steady:6.1f} MiB")
    for done, rss, anon, file, peak in rows:
        print(
            f"keyfolio serve after {done:>6,} API requests: RSS {rss:6.1f} MiB "
            f"(anonymous {anon:6.1f}, file-backed {file:5.1f}), peak {peak:6.1f} MiB"
        )
    by_count = {done: rss for done, rss, *_ in rows}
    for low, high in ((1_000, 10_000), (10_000, 20_000)):
        growth = by_count[high] - by_count[low]
        print(
            f"serve RSS from {low:,} to {high:,} requests: {growth:+.1f} MiB "
            f"({growth * 1024 / (high - low) * 1000:+.0f} KiB per 1,000 requests)"
        )
    print("goal: no growth from 1,000 to 10,000 (docs/benchmarks.md: what the rest is)")


if __name__ == "__main__":
    main()
