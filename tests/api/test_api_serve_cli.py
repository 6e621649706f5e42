"""`keyfolio serve` as a user runs it: refusal off loopback, start, answer, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from api_support import PASSWORD, TOKEN


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    return {**env, "KEYFOLIO_HOME": str(home), "COLUMNS": "200", **extra}


def keyfolio(*args: str) -> list[str]:
    return [sys.executable, "-c", "from keyfolio.cli.main import run; run()", *args]


def test_non_loopback_host_without_token_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        keyfolio("serve", "--host", "0.0.0.0"),
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0" in proc.stderr
    assert "KEYFOLIO_API_TOKEN" in proc.stderr
    bad = subprocess.run(
        keyfolio("serve", "--poll-seconds", "0"),
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert bad.returncode == 2 and "--poll-seconds" in bad.stderr
    # --token takes no value (a token on the command line is visible to other users): it asks
    # with a hidden prompt, which cannot happen without a terminal and without the variable.
    no_tty = subprocess.run(
        keyfolio("serve", "--host", "0.0.0.0", "--token"),
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert no_tty.returncode == 2 and "KEYFOLIO_API_TOKEN is not set" in no_tty.stderr


def test_a_taken_port_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            keyfolio("serve", "--port", str(port), "--no-live"),
            env=env_for(tmp_path, KEYFOLIO_PASSWORD=PASSWORD),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Hint:" in proc.stderr and "--port 0" in proc.stderr


# A process started with SIGINT ignored (a background job of a shell script, as CI may run
# the suite) passes that on to its children: this wrapper starts `keyfolio` that way.
_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-c', "
    "'from keyfolio.cli.main import run; run()', *sys.argv[1:]])"
)


def start_serve(home: Path, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen[str], str]:
    """`keyfolio serve --port 0 --no-live` with a token; the process and its first line."""
    argv = ["serve", "--port", "0", "--no-live"]
    command = [sys.executable, "-c", _SIGINT_IGNORED, *argv] if sigint_ignored else keyfolio(*argv)
    proc = subprocess.Popen(
        command,
        env=env_for(home, KEYFOLIO_PASSWORD=PASSWORD, KEYFOLIO_API_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed once the socket is bound
    return proc, first


def stop_with_sigint(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT, then the rest of stdout and stderr (the process is killed on a timeout)."""
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "ResourceWarning" not in err, err
    return out, err


def bound_port(first: str, proc: subprocess.Popen[str]) -> int:
    if "http://127.0.0.1:" not in first or ":0/" in first:
        proc.kill()
        raise AssertionError(first + proc.communicate()[1])
    return int(first.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])


def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc, first = start_serve(tmp_path)
    try:
        port = bound_port(first, proc)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        # The socket is bound before the first line: the request waits in its backlog until
        # uvicorn serves it (no retry loop; the timeout only bounds a failure).
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", headers=headers, timeout=60)
        assert response.status_code == 200
        assert response.json()["vault"] == {"exists": False, "unlocked": True}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 401
    finally:
        out, err = stop_with_sigint(proc)
    assert proc.returncode == 0, err
    output = first + out + err
    assert "Stopped." in out
    assert PASSWORD not in output and TOKEN not in output
    log = (tmp_path / "keyfolio.log").read_text()
    assert "GET /api/v1/health" in log  # the access log goes to the log file
    assert TOKEN not in log and PASSWORD not in log


def test_ctrl_c_stops_cleanly_even_when_sigint_was_ignored_at_start(tmp_path: Path) -> None:
    """uvicorn raises the caught SIGINT again after its shutdown: under an inherited SIG_IGN
    that used to end `serve` silently (exit 0, no "Stopped.")."""
    proc, first = start_serve(tmp_path, sigint_ignored=True)
    try:
        port = bound_port(first, proc)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", headers=headers, timeout=60)
        assert response.status_code == 200
    finally:
        out, err = stop_with_sigint(proc)
    assert proc.returncode == 0, err
    assert "Stopped." in out and "Traceback" not in err


def test_ctrl_c_during_startup_stops_cleanly(tmp_path: Path) -> None:
    """SIGINT right after the first line: uvicorn may not have started yet, or be starting."""
    proc, first = start_serve(tmp_path)
    bound_port(first, proc)
    out, err = stop_with_sigint(proc)
    assert proc.returncode == 0, err
    assert "Stopped." in out and "Traceback" not in err and "Interrupted" not in err
