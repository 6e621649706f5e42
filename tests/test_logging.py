import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyfolio.errors import DataDirError
from keyfolio.logging import MASK, RedactingFilter, redact, register_secret

PLANTED = "planted-Secret-7f3c9a1e"


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("keyfolio.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)


def test_registered_secret_is_masked_in_message_and_args(captured: io.StringIO) -> None:
    register_secret(PLANTED)
    logger = logging.getLogger("keyfolio.test.redaction")
    logger.info("connecting with %s", PLANTED)
    logger.info(f"inline {PLANTED} too")
    assert PLANTED not in captured.getvalue()
    assert captured.getvalue().count(MASK) == 2


def test_secret_in_traceback_is_masked(captured: io.StringIO) -> None:
    register_secret(PLANTED)
    logger = logging.getLogger("keyfolio.test.redaction")
    try:
        raise ValueError(f"boom {PLANTED}")
    except ValueError:
        logger.exception("failed")
    assert PLANTED not in captured.getvalue()
    assert "ValueError" in captured.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        "OK-ACCESS-KEY: abcdef-unregistered-key",
        "OK-ACCESS-PASSPHRASE: Hunter2isMyPass",
        "OK-ACCESS-SIGN: HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
        '{"apiKey": "some-value-here", "x": 1}',
        "secret=ABCDEF0123456789",
        "password='correct horse'",
        "passphrase: TopSecret!",
        "key 22582BD0CFF14C41EDBF1AB98506286D in text",
        "uuid 0b2d1c8e-4b0a-4f7c-9a3e-5f1d2c3b4a59 here",
    ],
)
def test_credential_shaped_values_are_masked(text: str) -> None:
    out = redact(text)
    assert MASK in out
    for secret in (
        "abcdef-unregistered-key",
        "Hunter2isMyPass",
        "HiZhvSfM",
        "some-value-here",
        "ABCDEF0123456789",
        "correct",
        "TopSecret",
        "22582BD0CFF14C41",
        "0b2d1c8e",
    ):
        assert secret not in out


def test_ordinary_text_is_untouched() -> None:
    text = "synced account main: 4 sources ok, BTC 0.5 at 60000"
    assert redact(text) == text


def test_patterns_off_masks_only_registered_secrets() -> None:
    register_secret(PLANTED)
    text = f"no password: KEYFOLIO_PASSWORD is not set; keys[1].apiKey: dup; {PLANTED}"
    assert redact(text, patterns=False) == text.replace(PLANTED, MASK)


@pytest.mark.parametrize("debug", [False, True])
def test_setup_logging_attaches_redacting_stderr_and_file_handlers(
    tmp_path, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    from keyfolio.logging import setup_logging

    log_file = tmp_path / "keyfolio.log"
    register_secret(PLANTED)
    setup_logging(debug=debug, log_file=log_file)
    try:
        logger = logging.getLogger("keyfolio.test.setup")
        logger.info("info line %s", PLANTED)
        logger.warning("warning line %s", PLANTED)
        logger.debug("debug line")
        for handler in logging.getLogger().handlers:
            handler.flush()
        written = log_file.read_text()
        stderr = capsys.readouterr().err
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_keyfolio", False):
                root.removeHandler(handler)
                handler.close()
    assert "info line ***" in written and "warning line ***" in written
    assert "warning line ***" in stderr
    assert ("debug line" in written) is debug
    assert ("info line" in stderr) is debug
    assert PLANTED not in written + stderr


@pytest.fixture
def cleanup_handlers() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_keyfolio", False):
            root.removeHandler(handler)
            handler.close()


def test_log_file_rotates_by_size_and_keeps_a_few(tmp_path: Path, cleanup_handlers: None) -> None:
    from keyfolio.logging import setup_logging

    log_file = tmp_path / "keyfolio.log"
    setup_logging(log_file=log_file, max_bytes=2048, backups=3)
    logger = logging.getLogger("keyfolio.test.rotation")
    for n in range(400):  # about 40 KB: far past 4 files of 2 KiB
        logger.info("line %04d %s", n, "x" * 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["keyfolio.log", "keyfolio.log.1", "keyfolio.log.2", "keyfolio.log.3"]
    assert all((tmp_path / name).stat().st_size <= 2048 for name in names)
    assert "line 0399" in log_file.read_text()  # the newest lines are in keyfolio.log


def test_settings_reach_the_log_file(tmp_path: Path, cleanup_handlers: None) -> None:
    from keyfolio.cli._context import CliState
    from keyfolio.config import Settings

    settings = Settings(home=tmp_path / "home", log_max_bytes=1024, log_backups=1)
    CliState().open_home(settings)
    for n in range(100):
        logging.getLogger("keyfolio.test.rotation").info("line %04d %s", n, "y" * 40)
    names = sorted(p.name for p in settings.home.iterdir() if p.name.startswith("keyfolio.log"))
    assert names == ["keyfolio.log", "keyfolio.log.1"]


def test_log_path_that_is_a_directory_is_an_error_with_a_hint(tmp_path: Path) -> None:
    from keyfolio.logging import setup_logging

    (tmp_path / "keyfolio.log").mkdir()
    with pytest.raises(DataDirError) as caught:
        setup_logging(log_file=tmp_path / "keyfolio.log")
    assert "is a directory" in caught.value.message and "--home" in caught.value.hint
    assert caught.value.exit_code == 2


def test_terminal_gets_no_traceback_and_no_quiet_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cleanup_handlers: None
) -> None:
    from keyfolio.logging import QUIET, setup_logging

    setup_logging(log_file=tmp_path / "keyfolio.log")
    logger = logging.getLogger("keyfolio.test.terminal")
    try:
        raise KeyError("the cause")
    except KeyError:
        logger.error("told the user already", exc_info=True, extra=QUIET)
        logger.error("shown on the terminal", exc_info=True)
    stderr = capsys.readouterr().err
    written = (tmp_path / "keyfolio.log").read_text()
    assert stderr == "ERROR: shown on the terminal\n"  # no traceback without --debug
    assert "told the user already" in written and "shown on the terminal" in written
    assert written.count("Traceback (most recent call last)") == 2
    assert "KeyError: 'the cause'" in written


_FULL_LATER = """
import logging, resource, signal, sys
from pathlib import Path
from keyfolio.logging import setup_logging
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
setup_logging(log_file=Path(sys.argv[1]))
for n in range(200):
    logging.getLogger("keyfolio.test").info("line %d %s", n, "z" * 60)
print("still running")
"""


def test_a_log_write_that_fails_later_warns_once_and_the_run_goes_on(tmp_path: Path) -> None:
    log_file = tmp_path / "keyfolio.log"
    result = subprocess.run(
        [sys.executable, "-c", _FULL_LATER, str(log_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "still running\n"
    assert result.stderr.count("cannot write the log file") == 1, result.stderr
    assert "File too large" in result.stderr and "Logging error" not in result.stderr
    assert log_file.stat().st_size <= 4096
