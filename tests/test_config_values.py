"""Settings values (``keyfolio._settings``): each conversion from an environment string or a
keyword argument, each bound, and the secret that never shows itself."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import pytest

from keyfolio.config import Secret, Settings
from keyfolio.errors import ConfigError


def _from_env(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> object:
    monkeypatch.setenv(f"KEYFOLIO_{name.upper()}", value)
    return getattr(Settings(home=Path("/nonexistent/kf")), name)


def _refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    """The problem reported for ``KEYFOLIO_<NAME>=value``, after the variable's name."""
    variable = f"KEYFOLIO_{name.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Settings(home=Path("/nonexistent/kf"))
    prefix = f"invalid setting: {variable}: "
    assert caught.value.message.startswith(prefix), caught.value.message
    return caught.value.message.removeprefix(prefix)


# Every bounded setting: a value just past each bound (refused) and the bound itself where it is
# allowed (accepted). A bound added without a line here fails test_every_bound_is_tested.
BOUNDS = {
    "sync_concurrency": (["0", "-1"], ["1"]),
    "history_check_hours": (["0", "-0.5"], ["0.001"]),
    "poll_seconds": (["0"], ["0.5"]),
    "db_lock_timeout_seconds": (["0", "3600.5"], ["3600", "0.01"]),
    "log_max_bytes": (["1023"], ["1024"]),
    "log_backups": (["0", "101"], ["1", "100"]),
    "vault_idle_minutes": (["-0.1"], ["0"]),
    "price_max_age_minutes": (["0"], ["0.1"]),
    "broker_namespace": (["", "x" * 65], ["x", "x" * 64]),
    "broker_heartbeat_seconds": (["0", "3601"], ["3600"]),
    "rate_budget_share": (["0", "1.01"], ["1", "0.01"]),
}


def test_every_bound_is_tested() -> None:
    bounded = {
        spec.name
        for spec in fields(Settings)
        if "bounds" in spec.metadata
        and any(value is not None for value in vars(spec.metadata["bounds"]).values())
    }
    assert bounded == set(BOUNDS)


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, (refused, _) in BOUNDS.items() for value in refused],
)
def test_a_value_out_of_bounds_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    problem = _refused(monkeypatch, name, value)
    assert problem.startswith(("must be at", "must be greater", "must have at"))
    if name == "broker_namespace":  # text: its length, never the text itself
        assert " character" in problem and problem.endswith(f", not {len(value)}")
    else:
        assert problem.endswith(f", not {value}")  # as it was written


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, (_, accepted) in BOUNDS.items() for value in accepted],
)
def test_a_value_on_its_bound_is_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    read = _from_env(monkeypatch, name, value)
    assert read == (value if name == "broker_namespace" else float(value))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7", 7), (" 7 ", 7), ("+7", 7), ("-2", -2), ("0012", 12)],
)
def test_a_whole_number_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: int
) -> None:
    read = _from_env(monkeypatch, "retries", text)
    assert read == expected and type(read) is int


@pytest.mark.parametrize("text", ["7.5", "7.0", "seven", "", " ", "1e3", "0x10", "+-1", "٣"])
def test_not_a_whole_number_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    problem = _refused(monkeypatch, "markets_ttl_seconds", text)
    assert problem == f"must be a whole number, not {repr(text) if text else 'an empty value'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.25", 0.25), ("3", 3.0), (" 1e1 ", 10.0), ("-1.5", -1.5)],
)
def test_a_number_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: float
) -> None:
    read = _from_env(monkeypatch, "request_timeout_seconds", text)
    assert read == expected and type(read) is float


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ten", "must be a number, not 'ten'"),
        ("", "must be a number, not an empty value"),
        ("1,5", "must be a number, not '1,5'"),
        ("nan", "must be a finite number, not 'nan'"),
        ("inf", "must be a finite number, not 'inf'"),
        ("-Infinity", "must be a finite number, not '-Infinity'"),
    ],
)
def test_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch, text: str, problem: str) -> None:
    assert _refused(monkeypatch, "request_timeout_seconds", text) == problem


TRUE = ["true", "True", "TRUE", "1", "yes", "YES", "on", "On", "t", "y", " true "]
FALSE = ["false", "False", "0", "no", "NO", "off", "Off", "f", "n"]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, True) for t in TRUE] + [(f, False) for f in FALSE]
)
def test_a_boolean_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: bool
) -> None:
    assert _from_env(monkeypatch, "debug", text) is expected
    assert _from_env(monkeypatch, "rate_limits", text) is expected


@pytest.mark.parametrize("text", ["maybe", "2", "", "-1", "yess", "enabled"])
def test_not_a_boolean_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    shown = repr(text) if text else "an empty value"
    expected = f"must be true or false (or yes/no, on/off, 1/0), not {shown}"
    assert _refused(monkeypatch, "rate_limits", text) == expected


def test_paths_are_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KEYFOLIO_PASSWORD_FILE", "~/pw")
    assert Settings(home="~/kf").home == tmp_path / "kf"
    assert Settings().password_file == tmp_path / "pw"


@pytest.mark.parametrize("name", ["home", "password_file"])
def test_an_empty_path_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"KEYFOLIO_{name.upper()}", " ")
    with pytest.raises(ConfigError, match=f"KEYFOLIO_{name.upper()}: must be a path, not an empty"):
        Settings()


def test_text_and_optional_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.sync_concurrency, settings.database_url, settings.password_file) == (
        None,
        None,
        None,
    )
    monkeypatch.setenv("KEYFOLIO_EGRESS_IP", " nat-1 ")
    monkeypatch.setenv("KEYFOLIO_DATABASE_URL", "postgresql://kf:pw-db-7@127.0.0.1/kf")
    monkeypatch.setenv("KEYFOLIO_SYNC_CONCURRENCY", "4")
    settings = Settings()
    assert settings.egress_ip == " nat-1 "  # text is taken as written
    assert (settings.sync_concurrency, settings.database_url) == (
        4,
        "postgresql://kf:pw-db-7@127.0.0.1/kf",
    )
    assert "pw-db-7" not in repr(settings)  # a URL may hold a password: not in repr()


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"retries": 1.5}, "KEYFOLIO_RETRIES: must be a whole number, not 1.5"),
        ({"retries": True}, "KEYFOLIO_RETRIES: must be a whole number, not True"),
        ({"poll_seconds": "soon"}, "KEYFOLIO_POLL_SECONDS: must be a number, not 'soon'"),
        ({"debug": 1}, "KEYFOLIO_DEBUG: must be true or false (or yes/no, on/off, 1/0), not 1"),
        ({"egress_ip": 7}, "KEYFOLIO_EGRESS_IP: must be text, not int"),
        ({"home": None}, "KEYFOLIO_HOME: must be set, not None"),
        ({"home": 3}, "KEYFOLIO_HOME: must be a path, not int"),
        ({"api_token": b"x"}, "KEYFOLIO_API_TOKEN: must be text, not bytes"),
        ({"okx_hosts": ["x"]}, "KEYFOLIO_OKX_HOSTS: must be a dict, not list"),
        ({"okx_hosts": {"eea": 1}}, "KEYFOLIO_OKX_HOSTS: every value must be text, and eea is not"),
    ],
)
def test_a_keyword_of_the_wrong_type_is_refused(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(**values)
    assert caught.value.message == f"invalid setting: {problem}"


def test_keywords_are_converted_as_the_environment_is(tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path), retries="2", poll_seconds=3, debug="on", api_token="t")
    assert (settings.home, settings.retries, settings.poll_seconds) == (tmp_path, 2, 3.0)
    assert settings.debug is True and type(settings.poll_seconds) is float
    assert settings.api_token == Secret("t") and settings.api_token != Secret("u")
    assert Settings(sync_concurrency=None).sync_concurrency is None


def test_the_api_token_never_shows_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_API_TOKEN", "tok-secret-5d1")
    settings = Settings()
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-secret-5d1"
    shown = [repr(settings), str(settings), repr(settings.api_token), f"{settings.api_token}"]
    assert all("tok-secret-5d1" not in text for text in shown)
    assert "api_token=Secret('**********')" in repr(settings)


def test_a_dict_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS", '{"eea": "http://a.example", "US": "http://u"}')
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS__US", "http://b.example")
    monkeypatch.setenv("keyfolio_okx_hosts__Global", "http://c.example")
    assert Settings().okx_hosts == {
        "eea": "http://a.example",
        "US": "http://u",  # a JSON key is kept as written; a variable's key is lower-cased
        "us": "http://b.example",
        "global": "http://c.example",
    }


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("KEYFOLIO_OKX_HOSTS", "[1]", 'must be a JSON object, such as {"eea": "https://..."}'),
        ("KEYFOLIO_OKX_HOSTS", "", 'must be a JSON object, such as {"eea": "https://..."}'),
        ("KEYFOLIO_OKX_HOSTS", '{"eea": 1}', "every value must be text, and eea is not"),
        ("KEYFOLIO_OKX_HOSTS__", "x", "must name one key, as KEYFOLIO_OKX_HOSTS__<KEY>=value"),
    ],
)
def test_a_bad_dict_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert caught.value.message == f"invalid setting: {variable}: {problem}"


def test_a_bad_json_dict_is_named_with_a_key_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS", "http://not-json")
    monkeypatch.setenv("KEYFOLIO_OKX_HOSTS__EEA", "http://a.example")
    with pytest.raises(ConfigError, match="^invalid setting: KEYFOLIO_OKX_HOSTS: must be a JSON"):
        Settings()


def test_other_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``KEYFOLIO_PASSWORD`` and the credentials are read by the commands that need them; a
    ``__`` part on a field that is not a dict is not one of ours either."""
    monkeypatch.setenv("KEYFOLIO_PASSWORD", "not a number")
    monkeypatch.setenv("KEYFOLIO_RETRIES__X", "not a number")
    monkeypatch.setenv("KEYFOLIOX_RETRIES", "not a number")
    assert Settings().retries == 3
    assert math.isclose(Settings().poll_seconds, 60.0)
