"""`--secret-file` and the multi-line secret, keyed on the venue's ``multiline_secret`` flag:
read in process (no subprocess: nothing here talks to an exchange)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from coinbase_support import CB_READ

from keyfolio.cli.accounts import read_credentials
from keyfolio.errors import UsageError


@pytest.fixture
def pem_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(CB_READ["secret"] + "\n")
    path.chmod(0o600)
    return path


def test_the_file_gives_the_whole_pem_and_the_env_the_key_name(
    pem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYFOLIO_API_KEY", CB_READ["apiKey"])
    credentials = read_credentials("coinbase", secret_file=pem_file)
    assert credentials.fields == {"apiKey": CB_READ["apiKey"], "secret": CB_READ["secret"].strip()}


def test_a_one_line_secret_venue_refuses_the_option(pem_file: Path) -> None:
    with pytest.raises(UsageError) as raised:
        read_credentials("binance", secret_file=pem_file)
    assert "--secret-file is for secrets that are multi-line keys" in raised.value.message


def test_the_secret_given_twice_is_refused(pem_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_API_KEY", CB_READ["apiKey"])
    monkeypatch.setenv("KEYFOLIO_API_SECRET", CB_READ["secret"])
    with pytest.raises(UsageError) as raised:
        read_credentials("coinbase", secret_file=pem_file)
    assert "given twice" in raised.value.message and "KEYFOLIO_API_SECRET" in raised.value.hint


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read it"),
        (b"", "is empty"),
        (b"\xff\xfe\x00", "is not text"),
        (b"x" * (64 * 1024 + 1), "larger than 64 KiB"),
    ],  # fmt: skip
    ids=["missing", "empty", "binary", "huge"],
)
def test_an_unusable_file_names_the_path_not_the_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, problem: str
) -> None:
    monkeypatch.setenv("KEYFOLIO_API_KEY", CB_READ["apiKey"])
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError) as raised:
        read_credentials("coinbase", secret_file=path)
    assert str(path) in raised.value.message and problem in raised.value.message


def test_a_file_others_can_read_gets_a_notice(
    pem_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYFOLIO_API_KEY", CB_READ["apiKey"])
    os.chmod(pem_file, 0o644)
    read_credentials("coinbase", secret_file=pem_file)
    err = capsys.readouterr().err
    assert "can be read by other users" in err and "chmod 600" in err
    assert CB_READ["secret"].splitlines()[1] not in err
