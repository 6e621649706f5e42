"""Helpers for tests of concurrent keyfolio processes: a started `keyfolio`, a condition wait,
and a gate that holds a client's requests to the sandbox until the test lets them through."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from cli_support import PASSWORD
from zygote import popen

WAIT_SECONDS = 60.0


def keyfolio_env(
    home: Path, *, creds: dict[str, str] | None = None, password: str | None = PASSWORD
) -> dict[str, str]:
    """The environment of a `keyfolio` subprocess, like cli_support.Runner builds it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    env["KEYFOLIO_HOME"] = str(home)
    env["COLUMNS"] = "200"
    if password is not None:
        env["KEYFOLIO_PASSWORD"] = password
    if creds is not None:
        env["KEYFOLIO_API_KEY"] = creds["apiKey"]
        env["KEYFOLIO_API_SECRET"] = creds["secret"]
        env["KEYFOLIO_API_PASSPHRASE"] = creds["passphrase"]
    return env


def spawn(home: Path, *args: str, creds: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `keyfolio ARGS` in the background (stdin closed, output captured)."""
    return popen(list(args), env=keyfolio_env(home, creds=creds))


def wait_until(condition: Callable[[], bool], what: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Wait for ``condition`` to hold (checked every few milliseconds); fail after ``timeout``.

    The timeout only turns a hang into a failure; the test's outcome never depends on it.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Gate:
    """A loopback HTTP forwarder in front of the sandbox that holds every request until opened.

    ``arrived`` is set when the first request comes in; nothing is forwarded before ``open()``.
    Requests and answers pass through unchanged (the client's signature covers path and body,
    not the host), so the sandbox checks them exactly as if they came directly.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.arrived = threading.Event()
        self._open = threading.Event()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                gate.arrived.set()
                if not gate._open.wait(WAIT_SECONDS):
                    self.send_error(504, "gate never opened")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                request = urllib.request.Request(
                    gate.upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
                        status, payload = response.status, response.read()
                        content_type = response.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                    content_type = exc.headers.get("Content-Type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def open(self) -> None:
        self._open.set()

    def __enter__(self) -> Gate:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()
