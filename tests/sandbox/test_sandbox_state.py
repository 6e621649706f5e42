"""The state file: loading, defaults, and errors that name the file, the field, the problem."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from keyfolio.errors import ConfigError, SandboxStateError
from keyfolio.sandbox.venues.okx.book import Book
from keyfolio.sandbox.venues.okx.demo import (
    DEMO_ACCOUNT,
    DEMO_READ_ONLY_KEY,
    DEMO_TRADING_KEY,
    demo_state,
    demo_state_data,
)
from keyfolio.sandbox.venues.okx.state import SandboxState, load_state, parse_state

MINIMAL: dict[str, Any] = {
    "tickers": {"BTC-USDT": {"last": "60000"}},
    "keys": [
        {"apiKey": "k", "secret": "s", "passphrase": "p", "perm": "read_only", "account": "a"}
    ],
    "accounts": {"a": {"trading": {"BTC": "1"}}},
}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _error(tmp_path: Path, data: Any) -> SandboxStateError:
    path = _write(tmp_path, data)
    with pytest.raises(SandboxStateError) as info:
        load_state(path)
    return info.value


def test_example_state_file_loads() -> None:
    source = resources.files("keyfolio.sandbox").joinpath("example_state.json")
    with resources.as_file(source) as path:
        state = load_state(path)
    assert state.keys[0].account == "alice"
    assert state.accounts["alice"].trading == {"BTC": "0.5", "USDT": "1000"}
    assert state.tickers["ETH-USDT"].open24h is None


def test_defaults_of_optional_key_fields(tmp_path: Path) -> None:
    key = load_state(_write(tmp_path, MINIMAL)).keys[0]
    assert (key.region, key.demo, key.ip, key.label) == ("global", False, "", "")


def test_open24h_defaults_to_last() -> None:
    book = Book(parse_state(MINIMAL))
    assert book.tickers["BTC-USDT"].open24h == Decimal("60000")


def test_repr_hides_secrets() -> None:
    state = parse_state(MINIMAL)
    text = repr(state) + str(state)
    assert "'s'" not in text and "'p'" not in text and "apiKey='k'" not in text
    assert "read_only" in text


def test_number_instead_of_string_names_file_field_problem(tmp_path: Path) -> None:
    data = {**MINIMAL, "accounts": {"a": {"trading": {"BTC": 0.5}}}}
    error = _error(tmp_path, data)
    assert str(error) == (
        f"{tmp_path / 'state.json'}: accounts.a.trading.BTC: "
        'amounts must be JSON strings such as "0.5", not numbers'
    )
    assert error.exit_code == 2
    assert isinstance(error, ConfigError)


def test_unknown_top_level_field_is_an_error(tmp_path: Path) -> None:
    error = _error(tmp_path, {**MINIMAL, "tikers": {}})
    assert str(error).endswith("state.json: tikers: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("patch", "where", "problem"),
    [
        ({"tickers": {"BTCUSDT": {"last": "1"}}}, "tickers.BTCUSDT", "BASE-QUOTE"),
        ({"tickers": {"BTC-USDT": {"last": "0"}}}, "tickers.BTC-USDT.last", "greater than zero"),
        ({"tickers": {"BTC-USDT": {"last": "abc"}}}, "tickers.BTC-USDT.last", "not a decimal"),
        ({"accounts": {"a": {"funding": {"BTC": "-1"}}}}, "accounts.a.funding.BTC", "negative"),
        ({"accounts": {"a": {"savings": {"USDT": 5}}}}, "accounts.a.savings.USDT.amt", "strings"),
        ({"accounts": {"a": {"trading": {"btc": "1"}}}}, "accounts.a.trading.btc", "upper-case"),
        (
            {"accounts": {"a": {"fills": [{"instId": "BTC-USDT", "side": "hold"}]}}},
            "accounts.a.fills[0].side",
            "'buy' or 'sell'",
        ),
        (
            {"accounts": {"a": {"deposits": [{"ccy": "BTC", "amt": "1", "ts": "yesterday"}]}}},
            "accounts.a.deposits[0].ts",
            "milliseconds",
        ),
    ],
)
def test_field_errors(tmp_path: Path, patch: dict[str, Any], where: str, problem: str) -> None:
    error = _error(tmp_path, {**MINIMAL, **patch})
    lines = str(error).splitlines()
    matching = [line for line in lines if f": {where}: " in line]
    assert matching, lines
    assert matching[0].startswith(str(tmp_path / "state.json"))
    assert problem in matching[0]


@pytest.mark.parametrize(
    ("key_patch", "where", "problem"),
    [
        ({"perm": "read"}, "keys[0].perm", "unknown permission 'read'"),
        ({"region": "mars"}, "keys[0].region", "'global', 'eea' or 'us'"),
        ({"ip": "1.2.3"}, "keys[0].ip", "not an IP address"),
        ({"demo": "yes"}, "keys[0].demo", "boolean"),
        ({"account": "nobody"}, "keys[0].account", "not defined in accounts"),
    ],
)
def test_key_errors(tmp_path: Path, key_patch: dict[str, Any], where: str, problem: str) -> None:
    key = {**MINIMAL["keys"][0], **key_patch}
    error = _error(tmp_path, {**MINIMAL, "keys": [key]})
    assert f"state.json: {where}: " in str(error)
    assert problem in str(error)


def test_missing_key_fields_each_reported(tmp_path: Path) -> None:
    error = _error(tmp_path, {**MINIMAL, "keys": [{"apiKey": "k"}]})
    text = str(error)
    for field in ("secret", "passphrase", "perm", "account"):
        assert f"keys[0].{field}: Field required" in text


def test_duplicate_api_key(tmp_path: Path) -> None:
    error = _error(tmp_path, {**MINIMAL, "keys": MINIMAL["keys"] * 2})
    assert "keys[1].apiKey: duplicate apiKey" in str(error)


def test_fee_currency_must_belong_to_the_instrument(tmp_path: Path) -> None:
    fill = {"instId": "BTC-USDT", "side": "buy", "fillPx": "1", "fillSz": "1", "feeCcy": "ETH",
            "ts": "1700000000000"}  # fmt: skip
    error = _error(tmp_path, {**MINIMAL, "accounts": {"a": {"fills": [fill]}}})
    assert "accounts.a.fills[0].feeCcy: must be BTC or USDT" in str(error)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    error = _error(tmp_path, '{"tickers": {,}}')
    assert str(error).startswith(f"{tmp_path / 'state.json'}: line 1 column 14: invalid JSON")


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    error = _error(tmp_path, "[]")
    assert str(error) == f"{tmp_path / 'state.json'}: (top level): must be a JSON object"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxStateError) as info:
        load_state(tmp_path / "absent.json")
    assert str(info.value).startswith(f"{tmp_path / 'absent.json'}: cannot read the state file")


def test_parse_state_uses_origin() -> None:
    with pytest.raises(SandboxStateError, match=r"^<mine>: foo: Extra inputs"):
        parse_state({"foo": 1}, origin="<mine>")


def test_demo_state_is_realistic() -> None:
    state = demo_state()
    assert isinstance(state, SandboxState)
    for base in ("BTC", "ETH", "SOL", "OKB", "DOT"):
        assert f"{base}-USDT" in state.tickers
    assert "XYZ-USDC" in state.tickers and not any(i.startswith("XYZ-US") for i in
                                                   state.tickers if i != "XYZ-USDC")  # fmt: skip
    assert "ABC-BTC" in state.tickers and "ABC-USDT" not in state.tickers
    account = state.accounts[DEMO_ACCOUNT]
    assert account.trading and account.funding and account.savings and account.onchain_earn
    assert account.fills
    book = Book(state)
    held = set(account.trading) | set(account.funding) | set(account.savings)
    unpriced = [ccy for ccy in held if book.usd_price(ccy) is None]
    assert unpriced == ["ZZZ"]
    assert book.usd_price("XYZ") == Decimal("0.8734")
    assert book.usd_price("ABC") == Decimal("0.00000412") * Decimal("64250.5")
    perms = {key.api_key: key.perm for key in state.keys}
    assert perms == {
        DEMO_READ_ONLY_KEY["apiKey"]: "read_only",
        DEMO_TRADING_KEY["apiKey"]: "read_only,withdraw,trade",
    }
    assert set(DEMO_READ_ONLY_KEY) == {"apiKey", "secret", "passphrase"}


def test_demo_state_data_round_trips_through_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path, demo_state_data())
    assert load_state(path) == demo_state()
