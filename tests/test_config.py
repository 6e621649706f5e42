"""Settings: the data directory check and the settings for locks and log rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

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
