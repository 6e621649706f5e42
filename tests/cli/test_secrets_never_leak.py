"""Plant unique secrets, run every kind of command (including failures under --debug),
then grep the data directory, the logs and every byte of CLI output for them.

Two tests (linking, then everything else on a linked home) so the two halves run in
parallel; each greps everything its commands wrote and printed.
"""

from __future__ import annotations

from cli_support import PASSWORD, READ_KEY, SECRETS, UNSAFE_KEY, Runner, control


def assert_nothing_leaked(kf: Runner, planted: list[str]) -> None:
    files = [path for path in kf.home.rglob("*") if path.is_file()]
    assert any(path.name == "keyfolio.log" for path in files)
    assert any(path.suffix == ".db" for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in planted:
            assert secret.encode() not in data, f"{secret!r} found in {path}"
    output = "\n".join(kf.outputs)
    assert "Traceback" in output  # --debug did print tracebacks ...
    for secret in planted:
        assert secret not in output, f"{secret!r} found in CLI output"  # ... without secrets
    assert PASSWORD not in output


def test_planted_secrets_never_leak_when_linking(kf: Runner, sandbox_url: str) -> None:
    add = ("account", "add", "okx", "--api-url", sandbox_url)
    assert kf(*add, "--name", "alice", creds=READ_KEY).returncode == 0
    kf("--debug", *add, "--name", "risky", creds=UNSAFE_KEY)
    kf("--debug", *add, "--name", "bad", creds={**READ_KEY, "passphrase": "wrong-pass-PLANT"})
    kf("--debug", *add, "--name", "bad2", creds={**READ_KEY, "secret": "wrong-secret-PLANT"})
    assert_nothing_leaked(kf, [*SECRETS, "wrong-pass-PLANT", "wrong-secret-PLANT"])


def test_planted_secrets_never_leak_from_syncs_and_reads(linked: Runner, sandbox_url: str) -> None:
    kf = linked  # alice linked with READ_KEY (the template's log is grepped too)
    control(sandbox_url, "/__sandbox__/faults", {"path": "*", "mode": "malformed", "count": 50})
    kf("--debug", "sync")
    kf("--debug", "sync", "--json")
    kf("--debug", "doctor")
    kf("--debug", "show")
    kf("--debug", "show", "--json")
    kf("--debug", "account", "list")
    kf("--debug", "sync", password="wrong-vault-password-PLANT")
    assert_nothing_leaked(kf, [*SECRETS, "wrong-vault-password-PLANT"])
