"""The ccxt -> keyfolio error translation: completeness, OKX codes, hints, secrets."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest

from keyfolio.domain.accounts import Region
from keyfolio.errors import (
    ClockSkewError,
    EnvironmentMismatchError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    KeyfolioError,
    KeyNotInRegionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    WrongPassphraseError,
)
from keyfolio.exchanges.errors import (
    CCXT_ERROR_MAP,
    map_ccxt_errors,
    translate_error,
)
from keyfolio.exchanges.okx import OKX_CODE_MAP

# `import ccxt.base.errors as x` fails: ccxt's package rebinds the `base` attribute.
ccxt_errors = importlib.import_module("ccxt.base.errors")

CCXT_CLASSES = [
    obj
    for _, obj in inspect.getmembers(ccxt_errors, inspect.isclass)
    if issubclass(obj, BaseException) and obj.__module__ == ccxt_errors.__name__
]


def okx_body(code: str, msg: str) -> str:
    return "okx " + json.dumps({"code": code, "msg": msg, "data": []}, separators=(",", ":"))


def test_every_ccxt_error_class_is_mapped() -> None:
    assert len(CCXT_CLASSES) > 30
    missing = [cls.__name__ for cls in CCXT_CLASSES if cls.__name__ not in CCXT_ERROR_MAP]
    assert missing == []


def test_map_has_no_stale_names() -> None:
    names = {cls.__name__ for cls in CCXT_CLASSES}
    assert set(CCXT_ERROR_MAP) <= names


@pytest.mark.parametrize("cls", CCXT_CLASSES, ids=lambda c: c.__name__)
def test_each_ccxt_class_becomes_its_mapped_class(cls: type[Exception]) -> None:
    original = cls("binance something went wrong")
    with pytest.raises(ExchangeError) as info, map_ccxt_errors("binance", account="main"):
        raise original
    expected = CCXT_ERROR_MAP[cls.__name__]
    assert type(info.value) is expected
    assert info.value.__cause__ is original
    assert "'main'" in info.value.message
    assert info.value.hint


def test_most_specific_mapping_wins() -> None:
    # InvalidNonce is a NetworkError in ccxt, but means clock skew, which is not retryable.
    translated = translate_error(ccxt_errors.InvalidNonce("kraken EAPI:Invalid nonce"), "kraken")
    assert type(translated) is ClockSkewError
    translated = translate_error(ccxt_errors.OnMaintenance("kraken down"), "kraken")
    assert type(translated) is ExchangeUnavailableError


OKX_CASES = [
    # (code, the class ccxt raises for it, expected keyfolio class)
    ("50119", ccxt_errors.ExchangeError, KeyNotInRegionError),
    ("50105", ccxt_errors.AuthenticationError, WrongPassphraseError),
    ("50113", ccxt_errors.AuthenticationError, InvalidSignatureError),
    ("50111", ccxt_errors.AuthenticationError, InvalidKeyError),
    ("50110", ccxt_errors.PermissionDenied, IpNotAllowedError),
    ("50102", ccxt_errors.InvalidNonce, ClockSkewError),
    ("50101", ccxt_errors.AuthenticationError, EnvironmentMismatchError),
    ("50120", ccxt_errors.ExchangeError, PermissionDeniedError),
    ("50030", ccxt_errors.ExchangeError, PermissionDeniedError),
    ("50011", ccxt_errors.RateLimitExceeded, RateLimitedError),
    ("50001", ccxt_errors.OnMaintenance, ExchangeUnavailableError),
    ("50004", ccxt_errors.RequestTimeout, ExchangeUnavailableError),
    ("50013", ccxt_errors.ExchangeNotAvailable, ExchangeUnavailableError),
    ("50026", ccxt_errors.ExchangeNotAvailable, ExchangeUnavailableError),
]


@pytest.mark.parametrize(("code", "raised", "expected"), OKX_CASES, ids=[c[0] for c in OKX_CASES])
def test_okx_codes_are_classified_by_code(
    code: str, raised: type[Exception], expected: type[ExchangeError]
) -> None:
    original = raised(okx_body(code, "some OKX message"))
    with pytest.raises(ExchangeError) as info, map_ccxt_errors("okx", account="alice"):
        raise original
    assert type(info.value) is expected
    assert info.value.exchange_code == code
    assert f"code {code}" in info.value.message
    assert "'alice'" in info.value.message
    assert info.value.__cause__ is original


def test_every_okx_code_in_the_table_translates() -> None:
    for code, (cls, _) in OKX_CODE_MAP.items():
        translated = translate_error(ccxt_errors.ExchangeError(okx_body(code, "x")), "okx")
        assert type(translated) is cls, code


def test_wrong_region_hint_names_the_host_region_and_the_other_regions() -> None:
    exc = ccxt_errors.ExchangeError(okx_body("50119", "API key doesn't exist"))
    translated = translate_error(exc, "okx", account="a", region=Region.EEA, host="eea.okx.com")
    assert isinstance(translated, KeyNotInRegionError)
    assert translated.hint.startswith(
        "This key does not exist on eea.okx.com (region eea). Try --region global or --region us."
    )


def test_ip_hint_names_the_ip_from_okx_message() -> None:
    message = "Your IP 203.0.113.7 is not included in your API key's IP whitelist."
    translated = translate_error(ccxt_errors.PermissionDenied(okx_body("50110", message)), "okx")
    assert isinstance(translated, IpNotAllowedError)
    assert "203.0.113.7" in translated.hint


def test_passphrase_hint_says_okx_cannot_recover_it() -> None:
    exc = ccxt_errors.AuthenticationError(okx_body("50105", "passphrase incorrect"))
    translated = translate_error(exc, "okx")
    assert translated is not None
    assert "cannot recover" in translated.hint
    assert "new" in translated.hint


def test_okx_code_inside_batch_item_scode() -> None:
    body = {"code": "1", "msg": "", "data": [{"sCode": "50120", "sMsg": "no permission"}]}
    translated = translate_error(ccxt_errors.ExchangeError("okx " + json.dumps(body)), "okx")
    assert isinstance(translated, PermissionDeniedError)
    assert translated.exchange_code == "50120"


def test_okx_codes_only_apply_to_okx() -> None:
    exc = ccxt_errors.ExchangeError('binance {"code":"50119","msg":"x"}')
    translated = translate_error(exc, "binance")
    assert type(translated) is ExchangeError
    assert translated.exchange_code == "50119"


def test_http_429_without_a_code_is_rate_limited_and_query_strings_are_dropped() -> None:
    exc = ccxt_errors.ExchangeNotAvailable(
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=deadbeef "
        "429 Too Many Requests"
    )
    translated = translate_error(exc, "binance")
    assert isinstance(translated, RateLimitedError)
    assert translated.exchange_code == "HTTP 429"
    assert "signature" not in translated.message
    assert "deadbeef" not in translated.message


def test_http_404_means_the_endpoint_is_unsupported() -> None:
    exc = ccxt_errors.ExchangeNotAvailable(
        "okx GET https://us.okx.com/api/v5/finance/savings/balance 404 Not Found Not Found"
    )
    assert isinstance(translate_error(exc, "okx"), ExchangeUnsupportedError)


def test_missing_credential_becomes_auth_error() -> None:
    exc = ccxt_errors.AuthenticationError('okx requires "password" credential')
    translated = translate_error(exc, "okx")
    assert type(translated) is ExchangeAuthError


@pytest.mark.parametrize("exc", [TimeoutError("t"), ConnectionResetError("reset")])
def test_network_exceptions_outside_ccxt_are_temporary(exc: Exception) -> None:
    with pytest.raises(ExchangeUnavailableError), map_ccxt_errors("okx"):
        raise exc


def test_a_body_cut_short_inside_a_bare_ccxt_exchange_error_is_temporary() -> None:
    import aiohttp

    # ccxt wraps every aiohttp ClientError but a connection error in a bare ExchangeError
    cut = aiohttp.ClientPayloadError("Response payload is not completed")
    wrapped = ccxt_errors.ExchangeError("okx GET http://127.0.0.1/api/v5/account/balance")
    wrapped.__cause__ = cut
    translated = translate_error(wrapped, "okx", account="main")
    assert type(translated) is ExchangeUnavailableError
    assert translated.message.startswith("OKX is unavailable or did not answer for account 'main'")
    assert "ClientPayloadError" in translated.message
    bare = translate_error(ccxt_errors.ExchangeError("okx said no"), "okx")
    assert type(bare) is ExchangeError  # without a network cause it stays what it was


def test_unrelated_exceptions_and_keyfolio_errors_pass_through() -> None:
    with pytest.raises(ZeroDivisionError), map_ccxt_errors("okx"):
        raise ZeroDivisionError
    original = NotFoundError("nope")
    with pytest.raises(KeyfolioError) as info, map_ccxt_errors("okx"):
        raise original
    assert info.value is original
