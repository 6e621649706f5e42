"""Settings: the data directory check, the settings for locks and log rotation, where values
come from (keyword arguments, then the environment in any case, then defaults).

Each conversion and bound is tested in ``test_config_values.py``."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from keyfolio.config import Settings
from keyfolio.errors import ConfigError, DataDirError


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
    with pytest.raises(ConfigError) as caught:
        Settings(home=tmp_path, **{name: value})
    assert caught.value.message.startswith(f"invalid setting: KEYFOLIO_{name.upper()}: must be")
    assert f"not {value}" in caught.value.message


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
    ("variable", "value", "message"),
    [
        ("KEYFOLIO_SYNC_CONCURRENCY", "0", "must be at least 1, not 0"),
        ("KEYFOLIO_SYNC_CONCURRENCY", "", "must be a whole number, not an empty value"),
        ("KEYFOLIO_DEBUG", "maybe", "must be true or false (or yes/no, on/off, 1/0), not 'maybe'"),
        ("KEYFOLIO_BROKER_NAMESPACE", "", "must have at least 1 character, not 0"),
        ("KEYFOLIO_OKX_HOSTS", "not json", 'must be a JSON object, such as {"eea": "https://..."}'),
        (
            "KEYFOLIO_OKX_HOSTS__EEA__X",
            "1",
            "must name one key, as KEYFOLIO_OKX_HOSTS__<KEY>=value",
        ),
        ("keyfolio_retries", "many", "must be a whole number, not 'many'"),
    ],
)
def test_a_bad_environment_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """The variable as it was written, what is wrong and the refused value, in the one
    ``ConfigError`` (exit 2) the CLI prints with its hint."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert caught.value.message == f"invalid setting: {variable}: {message}"
    assert caught.value.hint.startswith("Fix or unset that environment variable")
    assert caught.value.exit_code == 2


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_LOG_BACKUPS", "0")
    monkeypatch.setenv("KEYFOLIO_RATE_LIMITS", "sometimes")
    with pytest.raises(ConfigError) as caught:
        Settings(retries="x")
    problems = caught.value.message.removeprefix("invalid setting: ").split("; ")
    assert sorted(problem.split(":")[0] for problem in problems) == [
        "KEYFOLIO_LOG_BACKUPS",
        "KEYFOLIO_RATE_LIMITS",
        "KEYFOLIO_RETRIES",
    ]
    assert caught.value.hint.startswith("Fix or unset those environment variables")


def test_a_keyword_argument_hides_a_bad_environment_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYFOLIO_HOME", "")
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS__A__B", "x")
    settings = Settings(home=tmp_path, okx_hosts={"eea": "http://a.example"})
    assert (settings.home, settings.okx_hosts) == (tmp_path, {"eea": "http://a.example"})


def test_a_variable_set_twice_in_two_cases_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_RETRIES", "2")
    monkeypatch.setenv("keyfolio_retries", "5")
    with pytest.raises(ConfigError, match="is set twice, as "):
        Settings()
    monkeypatch.setenv("keyfolio_retries", "2")  # the same value twice is no conflict
    assert Settings().retries == 2


def test_an_unknown_keyword_is_a_bug_not_a_setting(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown settings: retry"):
        Settings(home=tmp_path, retry=1)


def test_settings_are_frozen_and_a_changed_copy_is_checked(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(FrozenInstanceError):
        settings.retries = 1  # type: ignore[misc]
    changed = replace(settings, poll_seconds=5)
    assert (changed.poll_seconds, changed.home, settings.poll_seconds) == (5.0, tmp_path, 60.0)
    with pytest.raises(ConfigError, match="KEYFOLIO_POLL_SECONDS: must be greater than 0, not 0"):
        replace(settings, poll_seconds=0)


def test_copies_do_not_read_the_environment_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path)
    monkeypatch.setenv("KEYFOLIO_RETRIES", "9")
    assert replace(settings, debug=True).retries == 3


def test_the_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KEYFOLIO_HOME", "~/kf")
    assert Settings().home == tmp_path / "kf"
