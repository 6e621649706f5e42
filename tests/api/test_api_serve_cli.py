"""`keyfolio serve` as a user runs it: refusal off loopback, start, answer, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import PASSWORD, TOKEN
from tls_support import make_cert
from zygote import popen, run_keyfolio


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    return {**env, "KEYFOLIO_HOME": str(home), "COLUMNS": "200", **extra}


def test_non_loopback_host_without_token_is_refused(tmp_path: Path) -> None:
    proc = run_keyfolio(
        ["serve", "--host", "0.0.0.0"],
        env=env_for(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0" in proc.stderr
    assert "KEYFOLIO_API_TOKEN" in proc.stderr
    bad = run_keyfolio(
        ["serve", "--poll-seconds", "0"],
        env=env_for(tmp_path),
        timeout=60,
    )
    assert bad.returncode == 2 and "--poll-seconds" in bad.stderr
    # --token takes no value (a token on the command line is visible to other users): it asks
    # with a hidden prompt, which cannot happen without a terminal and without the variable.
    no_tty = run_keyfolio(
        ["serve", "--host", "0.0.0.0", "--token"],
        env=env_for(tmp_path),
        timeout=60,
    )
    assert no_tty.returncode == 2 and "KEYFOLIO_API_TOKEN is not set" in no_tty.stderr


def test_a_taken_port_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_keyfolio(
            ["serve", "--port", str(port), "--no-live"],
            env=env_for(tmp_path, KEYFOLIO_PASSWORD=PASSWORD),
            timeout=60,
        )
    assert proc.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Hint:" in proc.stderr and "--port 0" in proc.stderr


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path: Path, debug: bool) -> None:
    proc, banner, port = _serve(
        tmp_path, debug=debug, KEYFOLIO_PASSWORD=PASSWORD, KEYFOLIO_API_TOKEN=TOKEN
    )
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = _answer(proc, f"http://127.0.0.1:{port}/api/v1/health", headers=headers)
        assert response.status_code == 200
        vault = response.json()["vault"]
        assert vault == {"exists": False, "unlocked": True, "auto_unlock": True, "idle_minutes": 15}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 401
    finally:
        out, err = _stop(proc)
    output = banner + out + err
    assert "Stopped." in out
    assert PASSWORD not in output and TOKEN not in output
    log = (tmp_path / "keyfolio.log").read_text()
    assert "keyfolio started" in log
    # The access log (one line per request; the dashboard polls) is on only with --debug.
    assert ("GET /api/v1/health" in log) is debug
    assert TOKEN not in log and PASSWORD not in log


def test_ctrl_c_stops_cleanly_even_when_sigint_was_ignored_at_start(tmp_path: Path) -> None:
    """uvicorn raises the caught SIGINT again after its shutdown: under an inherited SIG_IGN
    (a background job of a shell script, as CI may run the suite) that used to end `serve`
    silently (exit 0, no "Stopped.")."""
    proc, _, port = _serve(tmp_path, KEYFOLIO_PASSWORD=PASSWORD, sigint_ignored=True)
    try:
        assert _answer(proc, f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    finally:
        out, err = _stop(proc)
    assert "Stopped." in out and "Traceback" not in err


def test_ctrl_c_during_startup_stops_cleanly(tmp_path: Path) -> None:
    """SIGINT right after the banner: uvicorn may not have started yet, or be starting."""
    proc, _, _ = _serve(tmp_path, KEYFOLIO_PASSWORD=PASSWORD)
    out, err = _stop(proc)
    assert "Stopped." in out and "Traceback" not in err and "Interrupted" not in err


# A process started with SIGINT ignored passes that on to its children: this wrapper starts
# `keyfolio` that way.
_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-c', "
    "'from keyfolio.cli.main import run; run()', *sys.argv[1:]])"
)


def _serve(
    home: Path, *args: str, debug: bool = False, sigint_ignored: bool = False, **env: str
) -> tuple[subprocess.Popen[str], str, int]:
    """Start `keyfolio serve --port 0 ...`; the process, its banner and its port.

    The banner is read up to "Press Ctrl-C" through the same buffered pipe: ``communicate``
    reads the file descriptor itself and would miss lines already buffered here.
    """
    argv = [*(["--debug"] if debug else []), "serve", "--port", "0", "--no-live", *args]
    if sigint_ignored:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SIGINT_IGNORED, *argv],
            env=env_for(home, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    else:
        proc = popen(argv, env=env_for(home, **env))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if "://127.0.0.1:" not in first:
        proc.kill()
        raise AssertionError(first + proc.communicate()[1])
    port = int(first.split("://127.0.0.1:", 1)[1].split("/", 1)[0])
    banner = first
    while "Press Ctrl-C" not in banner:
        line = proc.stdout.readline()
        assert line, banner
        banner += line
    return proc, banner, port


def _until_answering(
    proc: subprocess.Popen[str], get: Callable[[], httpx.Response]
) -> httpx.Response:
    """The first answer of a server whose socket is bound (the banner says so): a request
    waits in the socket's backlog until uvicorn serves it, so there is nothing to retry."""
    try:
        return get()
    except httpx.TransportError:
        proc.kill()
        raise AssertionError(proc.communicate()[1]) from None


def _answer(proc: subprocess.Popen[str], url: str, **options: Any) -> httpx.Response:
    return _until_answering(proc, lambda: httpx.get(url, timeout=60, **options))


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT, then the rest of stdout and stderr; exit code 0 and no leak."""
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "ResourceWarning" not in err, err
    return out, err


def test_serve_over_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    files = make_cert(tmp_path)
    proc, banner, port = _serve(
        tmp_path / "home",
        "--tls-cert",
        str(files.cert),
        "--tls-key",
        str(files.key),
        KEYFOLIO_PASSWORD=PASSWORD,
    )
    try:
        assert banner.startswith(f"keyfolio dashboard on https://127.0.0.1:{port}/")
        with httpx.Client(verify=files.client_context(), timeout=60) as http:
            url = f"https://127.0.0.1:{port}/api/v1/health"
            health = _until_answering(proc, lambda: http.get(url))
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Stopped." in out and PASSWORD not in banner + out + err


def test_serve_refuses_bad_tls_files_and_plain_http_off_loopback(tmp_path: Path) -> None:
    good = make_cert(tmp_path, "good")
    other = make_cert(tmp_path, "other")

    def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_keyfolio(
            ["serve", *args],
            env=env_for(tmp_path / "home", **env),
            timeout=60,
        )

    missing = serve("--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(good.key))
    assert missing.returncode == 2
    assert f"Error: the TLS certificate {tmp_path / 'none.pem'} does not exist" in missing.stderr
    assert "Hint: Check the path given to --tls-cert." in missing.stderr
    mismatch = serve("--tls-cert", str(good.cert), "--tls-key", str(other.key))
    assert mismatch.returncode == 2 and "does not belong to the certificate" in mismatch.stderr
    plain = serve("--host", "0.0.0.0", KEYFOLIO_API_TOKEN=TOKEN)
    assert plain.returncode == 2
    assert "refusing to serve on 0.0.0.0" in plain.stderr and "plain HTTP" in plain.stderr
    assert "--tls-cert" in plain.stderr and "--behind-proxy" in plain.stderr
    proxy = serve("--behind-proxy", "--proxy-ip", "not-an-ip", KEYFOLIO_API_TOKEN=TOKEN)
    assert proxy.returncode == 2 and "--proxy-ip 'not-an-ip'" in proxy.stderr
    assert TOKEN not in plain.stdout + plain.stderr + proxy.stdout + proxy.stderr


def test_serve_relocks_the_vault_after_its_idle_minutes(tmp_path: Path) -> None:
    """A real, short idle period (0.6 s) and a wait for the state to change."""
    home = tmp_path / "home"
    proc, banner, port = _serve(home, "--vault-idle-minutes", "0.01")
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        assert (
            _until_answering(proc, lambda: httpx.get(base + "/vault", timeout=60)).json()[
                "unlocked"
            ]
            is False
        )
        unlocked = httpx.post(base + "/vault/unlock", json={"password": PASSWORD})
        assert unlocked.status_code == 200 and unlocked.json()["idle_minutes"] == 0.01
        for _ in range(600):  # a 30 s guard; it re-locks after 0.6 s
            if httpx.get(base + "/vault").json()["unlocked"] is False:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the vault did not re-lock")
        out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "re-locks after 0.01 minutes" in banner
    assert "the vault re-locked (idle" in (home / "keyfolio.log").read_text()
    assert PASSWORD not in (home / "keyfolio.log").read_text() + banner + out + err
