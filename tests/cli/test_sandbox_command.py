"""`keyfolio sandbox` as a user runs it: a subprocess that prints one line and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path

from cli_support import SANDBOX_CMD, base_state


def test_sandbox_prints_one_ready_line_serves_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(base_state()))
    proc = subprocess.Popen(
        [*SANDBOX_CMD, "--state", str(state), "--port", "0", "--ip-limit-scale", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("keyfolio sandbox listening on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].strip()
        with urllib.request.urlopen(url + "/api/v5/public/time", timeout=5) as response:
            body = json.loads(response.read())
        assert body["code"] == "0" and body["data"][0]["ts"].isdigit()
        with urllib.request.urlopen(url + "/__sandbox__/limits", timeout=5) as response:
            limits = json.loads(response.read())
        assert (limits["enforced"], limits["ip_scale"]) == (True, 0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert out == ""  # exactly one line on stdout
        assert "ResourceWarning" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bad_state_file_names_file_field_and_problem(tmp_path: Path) -> None:
    state = tmp_path / "bad.json"
    data = base_state()
    data["keys"][0]["perm"] = 42
    data["surprise"] = True
    state.write_text(json.dumps(data))
    result = subprocess.run(
        [*SANDBOX_CMD, "--state", str(state)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Error:" in result.stderr and str(state) in result.stderr
    assert "surprise" in result.stderr or "perm" in result.stderr
    assert "Hint:" in result.stderr


def test_a_bad_ip_limit_scale_is_refused() -> None:
    result = subprocess.run(
        [*SANDBOX_CMD, "--ip-limit-scale", "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Error: --ip-limit-scale 0.0 is out of range" in result.stderr
    assert "Hint:" in result.stderr


def test_missing_state_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SANDBOX_CMD, "--state", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Error:" in result.stderr and "nope.json" in result.stderr


def test_sandbox_without_a_state_serves_the_demo_and_links_with_its_printed_key(
    tmp_path: Path,
) -> None:
    from cli_support import Runner, sandbox_command

    with sandbox_command() as sandbox:
        creds = sandbox.demo_key("OKX", lines=3)
        kf = Runner(tmp_path / "home")
        add = ("account", "add", "okx", "--name", "demo", "--api-url", sandbox.url)
        result = kf(*add, creds=creds)
        assert result.returncode == 0, result.stderr
        assert "Linked demo" in result.stdout
    assert "ResourceWarning" not in sandbox.stderr, sandbox.stderr
