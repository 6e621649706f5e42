"""Peak memory: a 50-account `keyfolio sync`, and `keyfolio serve` after 1,000 and 10,000 API
requests (it must not grow between them).

The sandbox answers without injected latency (memory does not depend on it). The sync's peak
RSS is its ``ru_maxrss``; the server's resident and peak sizes are read from
``/proc/PID/status`` (Linux) after each batch of requests, over one keep-alive connection,
cycling through the dashboard's endpoints (:data:`PATHS`).
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


def status_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def requests(connection: http.client.HTTPConnection, count: int, offset: int) -> None:
    for i in range(offset, offset + count):
        connection.request("GET", PATHS[i % len(PATHS)])
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{PATHS[i % len(PATHS)]} answered {response.status}")


def serve(home: Path) -> list[tuple[int, float, float]]:
    port = free_port()
    proc = subprocess.Popen(
        [KEYFOLIO, "serve", "--port", str(port)],
        env=env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
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
        for target in (1_000, 5_000, 10_000):
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
    for done, rss, peak in rows:
        print(
            f"keyfolio serve after {done:>6,} API requests: "
            f"RSS {rss:6.1f} MiB, peak {peak:6.1f} MiB"
        )
    (_, rss_1k, _), _, (_, rss_10k, _) = rows
    print(
        f"serve RSS growth from 1,000 to 10,000 requests: {rss_10k - rss_1k:+.1f} MiB "
        f"({rss_10k / rss_1k:.3f}x; goal: no growth)"
    )


if __name__ == "__main__":
    main()
