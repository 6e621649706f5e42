"""A fork server for the `keyfolio` runs of the tests: each run is a real process, minus imports.

Most CLI tests run `keyfolio` once or several times, and a fresh interpreter spends about a
second (more on a loaded box) importing ccxt, SQLAlchemy, Typer, Rich and keyfolio before it
reads its argv. Across the suite that was most of `make test`. So each test process starts one
*zygote* (this file, as a script): it imports those modules once, then waits on a Unix socket.
For every run it forks a child that is set up exactly as `python -c "... run()" ARGS` would be:

* its own pid, argv, environment (``os.environ`` replaced, ``TZ`` re-read), working directory;
* stdin, stdout and stderr are the file descriptors the test passed (``SCM_RIGHTS``);
* it exits through the normal interpreter shutdown, so atexit handlers run and a leaked
  socket still prints its ``ResourceWarning`` to the child's stderr (the runners fail on it);
* its exit status is reported as ``subprocess`` reports it (``-N`` for signal N).

What differs from a fresh interpreter is start-up state only: modules already imported (the
tests of what a command imports start real interpreters: ``tests/cli/test_startup.py``), the
hash seed, and interpreter flags. A run whose ``PYTHON*`` environment differs from the
zygote's, or any run with ``KEYFOLIO_TEST_NO_ZYGOTE=1`` set in the test process, starts a
real interpreter instead (docs/testing.md).
"""

from __future__ import annotations

import atexit
import gc
import io
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Imported once by the zygote: the costly part of every command's start-up.
PRELOAD = (
    "typer",
    "rich.console",
    "rich.table",
    "sqlalchemy.orm",
    "alembic.command",
    "argon2",
    "cryptography.hazmat.primitives.ciphers.aead",
    "aiohttp",
    "ccxt.async_support",
    "fastapi",
    "uvicorn",
    "jinja2",
)
# And keyfolio's own modules, except hosted mode's (its actors bind a broker when imported).
PRELOAD_PACKAGES = ("keyfolio",)
SKIP = ("hosted", "migrations", "keyfolio.sandbox", "keyfolio.api", "keyfolio.web", "keyfolio.cli")
_CODE = "from keyfolio.cli.main import run; run()"


@dataclass(frozen=True)
class Request:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: list[int]


def _python_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


# --- the zygote (runs as a script) ------------------------------------------------------------


def _preload() -> None:
    import importlib
    import pkgutil

    for name in PRELOAD:
        importlib.import_module(name)
    for package in PRELOAD_PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not any(part in module.name for part in SKIP):
                importlib.import_module(module.name)
    importlib.import_module("sqlalchemy.orm").configure_mappers()
    assert threading.active_count() == 1, "a preloaded module started a thread: fork is unsafe"
    # What the zygote holds is never collected by a child: scanning it at each child's exit
    # would take ~1 s and copy every page of the heap (copy-on-write).
    gc.collect()
    gc.freeze()


class _Server:
    """The zygote's loop: a listening socket, the lifeline (stdin), one pidfd per child."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "lifeline")
        self.running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)

    def serve(self) -> Request | None:
        """Answer runs until stdin closes; returns in a forked child, with its request."""
        print("ready", flush=True)
        while True:
            for key, _ in self.selector.select():
                if key.data == "lifeline":  # the test process is gone or done
                    for pid, _conn in self.running.values():
                        os.kill(pid, signal.SIGKILL)
                    self.close()
                    return None
                if key.data == "accept":
                    request = self.fork()
                    if request is not None:
                        return request
                else:
                    self.reap(key.fd)

    def close(self) -> None:
        for pidfd, (_, conn) in self.running.items():
            os.close(pidfd)
            conn.close()
        self.selector.close()
        self.listener.close()

    def fork(self) -> Request | None:
        conn, _ = self.listener.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            conn.close()
            self.close()
            return Request(**json.loads(message), fds=fds)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = (pid, conn)
        self.selector.register(pidfd, selectors.EVENT_READ, "exit")
        try:
            socket.send_fds(conn, [f"{pid}\n".encode()], [pidfd])
        except OSError:  # the test gave up on this run; its exit is still reaped
            pass
        return None

    def reap(self, pidfd: int) -> None:
        pid, conn = self.running.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        try:
            conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        except OSError:  # the test timed out and stopped listening
            pass
        conn.close()


def _become(request: Request) -> None:
    """Turn this forked child into `python -c CODE ARGV...` and run keyfolio."""
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request.env)
    time.tzset()
    os.chdir(request.cwd)
    sys.argv = ["-c", *request.argv]
    sys.path[0] = ""
    from keyfolio.cli.main import run

    run()


# --- the test side ----------------------------------------------------------------------------


class ForkedPopen(subprocess.Popen[str]):
    """A ``subprocess.Popen`` whose process was forked by the zygote (text mode only).

    Everything ``Popen`` offers works: ``stdout``/``stderr``/``stdin`` pipes, ``communicate``,
    ``wait``/``poll`` with timeouts, ``send_signal``/``terminate``/``kill`` (through a pidfd,
    so a signal never reaches a recycled pid), and the "still running" ``ResourceWarning``.
    The exit status comes from the zygote, which reaps the process.
    """

    def __init__(
        self,
        zygote: Zygote,
        argv: list[str],
        *,
        env: dict[str, str],
        stdin: int | None,
        stdout: int | IO[Any] | None,
        stderr: int | IO[Any] | None,
    ) -> None:
        # Popen's own state, as its __init__ would leave it (nothing here spawns).
        self.args = [sys.executable, "-c", _CODE, *argv]
        self._input = None
        self._communication_started = False
        self._waitpid_lock = threading.Lock()
        self._sigint_wait_secs = 0.25
        self._closed_child_pipe_fds = True
        self._child_created = False
        self.returncode = None
        self.encoding = None
        self.errors = None
        self.text_mode = True
        self.pipesize = -1
        self.stdin = self.stdout = self.stderr = None
        child: list[int] = []
        try:
            fd_in, w = _child_end(stdin, 0, reading=True)
            child.append(fd_in)
            if w is not None:
                self.stdin = io.TextIOWrapper(open(w, "wb"), write_through=True)
            fd_out, r = _child_end(stdout, 1, reading=False)
            child.append(fd_out)
            if r is not None:
                self.stdout = io.TextIOWrapper(open(r, "rb"))
            if stderr == subprocess.STDOUT:
                child.append(os.dup(fd_out))
            else:
                fd_err, r = _child_end(stderr, 2, reading=False)
                child.append(fd_err)
                if r is not None:
                    self.stderr = io.TextIOWrapper(open(r, "rb"))
            self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._conn.connect(zygote.path)
            message = json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}).encode()
            socket.send_fds(self._conn, [message], child)
        finally:
            for fd in child:
                os.close(fd)
        data, fds, _, _ = socket.recv_fds(self._conn, 64, 1)
        self.pid = int(data)
        self._pidfd = fds[0]
        self._child_created = True
        self._status = b""

    def _read_status(self, timeout: float | None) -> None:
        self._conn.settimeout(timeout)
        while not self._status.endswith(b"\n"):
            chunk = self._conn.recv(64)  # socket.timeout (TimeoutError) when it takes longer
            if not chunk:
                raise RuntimeError("the keyfolio zygote went away without an exit status")
            self._status += chunk
        self.returncode = int(self._status)
        self._conn.close()
        os.close(self._pidfd)

    def _internal_poll(self, *args: Any, **kwargs: Any) -> int | None:
        if self.returncode is None:
            readable, _, _ = select.select([self._conn], [], [], 0)
            if readable:
                self._read_status(None)
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is None:
            try:
                self._read_status(timeout)
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._pidfd, sig)


def _child_end(spec: int | IO[Any] | None, own: int, *, reading: bool) -> tuple[int, int | None]:
    """The child's descriptor for one standard stream, and the test's end of a new pipe."""
    if spec == subprocess.PIPE:
        r, w = os.pipe()
        return (r, w) if reading else (w, r)
    if spec == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDONLY if reading else os.O_WRONLY), None
    if spec is None:
        return os.dup(own), None
    if isinstance(spec, int):
        return os.dup(spec), None
    return os.dup(spec.fileno()), None


class Zygote:
    """One per test process, started on first use; :func:`shutdown` stops it."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kf-zygote-")
        self.path = str(Path(self._dir.name) / "socket")
        self.python_env = _python_env(dict(os.environ))
        self._proc = subprocess.Popen(
            [sys.executable, __file__, self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the keyfolio zygote did not start: {line!r}")

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._proc.stdout.close()
        self._dir.cleanup()

    def run(
        self, argv: list[str], *, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Like ``subprocess.run([python, -c, CODE, *argv], capture_output=True, text=True,
        stdin=DEVNULL, env=env, timeout=timeout)``."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.path)
            try:
                message = json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}).encode()
                socket.send_fds(conn, [message], [devnull, out_w, err_w])
            finally:
                for fd in (devnull, out_w, err_w):
                    os.close(fd)
            data, fds, _, _ = socket.recv_fds(conn, 64, 1)
            os.close(fds[0])
            pid = int(data)
            reader = conn.makefile("r")
            try:
                deadline = time.monotonic() + timeout
                stdout, stderr = _drain(out_r, err_r, deadline, pid, argv, timeout)
                conn.settimeout(max(1.0, deadline - time.monotonic()))
                code = int(reader.readline())
            finally:
                reader.close()
        return subprocess.CompletedProcess(argv, code, stdout, stderr)


def _drain(
    out_r: int, err_r: int, deadline: float, pid: int, argv: list[str], timeout: float
) -> tuple[str, str]:
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        open_fds = set(chunks)
        while open_fds:
            ready = selector.select(timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, 9)
                for fd in chunks:
                    os.close(fd)
                raise subprocess.TimeoutExpired(argv, timeout)
            for key, _ in ready:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    open_fds.discard(key.fd)
    for fd in chunks:
        os.close(fd)
    return b"".join(chunks[out_r]).decode(), b"".join(chunks[err_r]).decode()


_zygote: Zygote | None = None
# Read at import: the tests' autouse fixture removes every KEYFOLIO_* variable.
_REAL = os.environ.get("KEYFOLIO_TEST_NO_ZYGOTE") == "1"


def run_keyfolio(
    argv: list[str], *, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `keyfolio ARGV` in a fresh process: forked from this test process's zygote, or a
    real interpreter when the run's ``PYTHON*`` variables differ or the zygote is turned off."""
    zygote = _zygote_for(env)
    if zygote is None:
        return subprocess.run(
            [sys.executable, "-c", _CODE, *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    return zygote.run(argv, env=env, timeout=timeout)


def _zygote_for(env: dict[str, str]) -> Zygote | None:
    """This process's zygote, started on first use; ``None`` when a run needs a real
    interpreter (zygote turned off, or ``PYTHON*`` variables that differ from the zygote's)."""
    global _zygote
    if _REAL:
        return None
    if _zygote is None:
        _zygote = Zygote()
        atexit.register(shutdown)
    return _zygote if _python_env(env) == _zygote.python_env else None


def popen(
    argv: list[str],
    *,
    env: dict[str, str],
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """Start `keyfolio ARGV` in the background, as ``subprocess.Popen(..., text=True)`` would:
    forked by the zygote, or a real interpreter (as :func:`run_keyfolio` decides)."""
    zygote = _zygote_for(env)
    if zygote is None:
        return subprocess.Popen(
            [sys.executable, "-c", _CODE, *argv],
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    return ForkedPopen(zygote, argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr)


def shutdown() -> None:
    """Stop this process's zygote (if it was started)."""
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


if __name__ == "__main__":
    _preload()
    child = _Server(sys.argv[1]).serve()
    if child is not None:
        _become(child)
