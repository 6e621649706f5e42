import io
import logging

import pytest

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
