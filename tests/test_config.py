"""Settings: the data directory check and the settings for locks and log rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyfolio.config import Settings
from keyfolio.errors import DataDirError


def test_defaults_for_locks_and_logs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.db_lock_timeout_seconds == 5.0
    assert (settings.log_max_bytes, settings.log_backups) == (5 * 1024 * 1024, 5)


def test_settings_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_DB_LOCK_TIMEOUT_SECONDS", "0.25")
    monkeypatch.setenv("KEYFOLIO_LOG_MAX_BYTES", "4096")
    monkeypatch.setenv("KEYFOLIO_LOG_BACKUPS", "2")
    settings = Settings(home=tmp_path)
    assert settings.db_lock_timeout_seconds == 0.25
    assert (settings.log_max_bytes, settings.log_backups) == (4096, 2)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("db_lock_timeout_seconds", 0),
        ("log_max_bytes", 10),
        ("log_backups", 0),
    ],
)
def test_unsafe_values_are_refused(tmp_path: Path, name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(home=tmp_path, **{name: value})


def test_ensure_home_creates_a_private_directory(tmp_path: Path) -> None:
    home = Settings(home=tmp_path / "a" / "home").ensure_home()
    assert home.is_dir() and home.stat().st_mode & 0o777 == 0o700


def test_ensure_home_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("x")
    with pytest.raises(DataDirError) as caught:
        Settings(home=tmp_path / "home").ensure_home()
    assert "is a file" in caught.value.message and "--home" in caught.value.hint
    with pytest.raises(DataDirError) as below:
        Settings(home=tmp_path / "home" / "sub").ensure_home()
    assert "not a directory" in below.value.message


def test_environment_names_are_matched_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("keyfolio_retries", "7")
    monkeypatch.setenv("KEYFOLIO_DEBUG", "yes")
    monkeypatch.setenv("KEYFOLIO_API_TOKEN", "tok-9f")
    settings = Settings(home=tmp_path)
    assert (settings.retries, settings.debug) == (7, True)
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "tok-9f"


def test_keyword_arguments_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYFOLIO_HOME", str(tmp_path / "env"))
    monkeypatch.setenv("KEYFOLIO_RETRIES", "9")
    assert Settings().home == tmp_path / "env"
    settings = Settings(home=tmp_path / "kw", retries=1)
    assert (settings.home, settings.retries) == (tmp_path / "kw", 1)


def test_a_dict_setting_as_json_and_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS", '{"eea": "http://a.example"}')
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS__US", "http://b.example")
    assert Settings().okx_hosts == {"eea": "http://a.example", "us": "http://b.example"}


@pytest.mark.parametrize(
    ("variable", "value", "loc", "message"),
    [
        ("KEYFOLIO_SYNC_CONCURRENCY", "0", ("sync_concurrency",), "greater than or equal to 1"),
        ("KEYFOLIO_SYNC_CONCURRENCY", "", ("sync_concurrency",), "valid integer"),
        ("KEYFOLIO_DEBUG", "maybe", ("debug",), "valid boolean"),
        ("KEYFOLIO_BROKER_NAMESPACE", "", ("broker_namespace",), "at least 1 character"),
        ("KEYFOLIO_OKX_HOSTS", "not json", ("okx_hosts",), "valid dictionary"),
        ("KEYFOLIO_OKX_HOSTS__EEA__X", "1", ("okx_hosts", "eea"), "valid string"),
    ],
)
def test_a_bad_environment_value_names_its_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, loc: tuple[str, ...], message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    [error] = caught.value.errors()
    assert error["loc"] == loc and message in error["msg"]


def test_the_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KEYFOLIO_HOME", "~/kf")
    assert Settings().home == tmp_path / "kf"
