"""`keyfolio serve` as a user runs it: refusal off loopback, start, answer, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
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


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path: Path, debug: bool) -> None:
    proc = subprocess.Popen(
        keyfolio(*(["--debug"] if debug else []), "serve", "--port", "0", "--no-live"),
        env=env_for(tmp_path, KEYFOLIO_PASSWORD=PASSWORD, KEYFOLIO_API_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "http://127.0.0.1:" in first and ":0/" not in first, first + proc.stderr.read()
        port = int(first.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])  # the bound port
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = None
        for _ in range(200):  # the socket is bound; uvicorn starts serving right after
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", headers=headers)
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.05)
        assert response is not None and response.status_code == 200
        assert response.json()["vault"] == {"exists": False, "unlocked": True}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 401
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    output = first + out + err
    assert "Stopped." in out
    assert PASSWORD not in output and TOKEN not in output
    log = (tmp_path / "keyfolio.log").read_text()
    assert "keyfolio started" in log
    # The access log (one line per request; the dashboard polls) is on only with --debug.
    assert ("GET /api/v1/health" in log) is debug
    assert TOKEN not in log and PASSWORD not in log
