"""REST authentication: every OKX error code, its HTTP status, and what ccxt makes of it."""

from __future__ import annotations

from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from keyfolio.sandbox.core.fields import ip_allowed
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.auth import authenticate_rest, parse_iso_timestamp, sign
from keyfolio.sandbox.venues.okx.state import SandboxState

BALANCE = "/api/v5/account/balance"


def test_published_signature_vector() -> None:
    secret = "22582BD0CFF14C41EDBF1AB98506286D"
    prehash = "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    assert sign(secret, prehash) == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="


def test_post_and_websocket_vectors() -> None:
    secret = "22582BD0CFF14C41EDBF1AB98506286D"
    body = '{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}'
    prehash = "2020-12-08T09:08:57.715ZPOST/api/v5/account/set-leverage" + body
    assert sign(secret, prehash) == "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="
    ws = sign(secret, "1538054050GET/users/self/verify")
    assert ws == "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="


def test_the_vector_verifies_through_the_request_check(state: SandboxState) -> None:
    from keyfolio.sandbox.venues.okx.state import KeyState

    key = KeyState(
        apiKey="k", secret="22582BD0CFF14C41EDBF1AB98506286D", passphrase="p", perm="read_only",
        account="alice",
    )  # fmt: skip
    headers = {
        "OK-ACCESS-KEY": "k",
        "OK-ACCESS-PASSPHRASE": "p",
        "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z",
        "OK-ACCESS-SIGN": "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
    }
    moment = parse_iso_timestamp("2020-12-08T09:08:57.715Z")
    assert moment is not None
    found = authenticate_rest(
        headers=headers, method="GET", path_qs="/api/v5/account/balance?ccy=BTC", body="",
        keys={"k": key}, region="global", peer="127.0.0.1", now=moment + 1,
    )  # fmt: skip
    assert found is key


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2020-12-08T09:08:57.715Z", True),
        ("2020-12-08T09:08:57Z", True),
        ("2020-12-08 09:08:57.715Z", False),
        ("1607418537715", False),
        ("2020-13-08T09:08:57.715Z", False),
        ("2020-12-08T09:08:57.715", False),
    ],
)
def test_timestamp_format(text: str, valid: bool) -> None:
    assert (parse_iso_timestamp(text) is not None) is valid


def test_ip_lists() -> None:
    assert ip_allowed("", "1.2.3.4")
    assert ip_allowed("10.0.0.1, 1.2.3.0/24", "1.2.3.4")
    assert not ip_allowed("10.0.0.1", "127.0.0.1")
    assert not ip_allowed("10.0.0.1", None)


async def _raw(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], path: str = BALANCE
) -> tuple[int, dict[str, Any]]:
    async with http.get(url + path, headers=headers) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("drop", "code", "header"),
    [
        ("OK-ACCESS-KEY", "50103", "OK-ACCESS-KEY"),
        ("OK-ACCESS-PASSPHRASE", "50104", "OK-ACCESS-PASSPHRASE"),
        ("OK-ACCESS-SIGN", "50106", "OK-ACCESS-SIGN"),
        ("OK-ACCESS-TIMESTAMP", "50107", "OK-ACCESS-TIMESTAMP"),
    ],
)
async def test_missing_headers(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, drop: str, code: str, header: str
) -> None:
    headers = okx.headers("alice", BALANCE)
    del headers[drop]
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"], body["data"]) == (401, code, [])
    assert body["msg"] == f'Request header "{header}" cannot be empty.'


async def test_missing_headers_checked_in_order(sandbox: str, http: aiohttp.ClientSession) -> None:
    status, body = await _raw(http, sandbox, {})
    assert (status, body["code"]) == (401, "50103")
    status, body = await _raw(http, sandbox, {"OK-ACCESS-KEY": "x", "OK-ACCESS-SIGN": "y"})
    assert (status, body["code"]) == (401, "50104")


async def test_unknown_key_50111_before_timestamp_checks(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    headers = okx.headers("alice", BALANCE, timestamp="garbage")
    headers["OK-ACCESS-KEY"] = "no-such-key"
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"], body["msg"]) == (401, "50111", "Invalid OK-ACCESS-KEY.")


async def test_malformed_timestamp_50112(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, body = await _raw(http, sandbox, okx.headers("alice", BALANCE, timestamp="1700000000"))
    assert (status, body["code"], body["msg"]) == (401, "50112", "Invalid OK-ACCESS-TIMESTAMP.")


@pytest.mark.parametrize("offset", [-31.0, 31.0])
async def test_expired_timestamp_50102(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, offset: float
) -> None:
    headers = okx.headers("alice", BALANCE, timestamp=okx.iso_now(offset))
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"], body["msg"]) == (401, "50102", "Timestamp request expired.")


async def test_skew_within_window_is_accepted(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    headers = okx.headers("alice", BALANCE, timestamp=okx.iso_now(-25))
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"]) == (200, "0")


async def test_other_region_50119_http_200(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, body = await _raw(http, sandbox, okx.headers("eea", BALANCE))
    assert (status, body["code"], body["msg"]) == (200, "50119", "API key doesn't exist")


async def test_region_key_works_on_its_own_region(
    state: SandboxState, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with run_sandbox(state, region="eea") as url:
        status, body = await _raw(http, url, okx.headers("eea", BALANCE))
        assert (status, body["code"]) == (200, "0")
        status, body = await _raw(http, url, okx.headers("alice", BALANCE))
        assert (status, body["code"]) == (200, "50119")


async def test_wrong_passphrase_50105(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    headers = okx.headers("alice", BALANCE)
    headers["OK-ACCESS-PASSPHRASE"] = "wrong"
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"]) == (401, "50105")
    assert body["msg"] == 'Request header "OK-ACCESS-PASSPHRASE" incorrect.'


async def test_bad_signature_50113(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    headers = okx.headers("alice", BALANCE + "?ccy=BTC")  # signed for another path
    status, body = await _raw(http, sandbox, headers)
    assert (status, body["code"], body["msg"]) == (401, "50113", "Invalid signature.")


async def test_signature_covers_the_query(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    path = BALANCE + "?ccy=BTC,ETH"
    status, body = await _raw(http, sandbox, okx.headers("alice", path), path)
    assert (status, body["code"]) == (200, "0")


async def test_demo_mismatch_50101(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    demo_headers = okx.headers("demo", BALANCE)
    status, body = await _raw(http, sandbox, demo_headers)
    assert (status, body["code"]) == (200, "0")
    del demo_headers["x-simulated-trading"]
    status, body = await _raw(http, sandbox, demo_headers)
    assert (status, body["code"]) == (401, "50101")
    assert body["msg"] == "APIKey does not match current environment."
    live = {**okx.headers("alice", BALANCE), "x-simulated-trading": "1"}
    status, body = await _raw(http, sandbox, live)
    assert (status, body["code"]) == (401, "50101")


async def test_ip_whitelist_50110(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    status, body = await _raw(http, sandbox, okx.headers("ip", BALANCE))
    assert (status, body["code"]) == (401, "50110")
    assert body["msg"] == "Your IP 127.0.0.1 is not included in your API key's IP whitelist."


async def test_key_without_read_permission_50120(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, body = await _raw(http, sandbox, okx.headers("trade", BALANCE))
    assert (status, body["code"]) == (200, "50120")
    assert body["msg"] == "This API key doesn't have permission to use this function"


async def test_auth_check_order_region_before_passphrase(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    headers = okx.headers("eea", BALANCE)
    headers["OK-ACCESS-PASSPHRASE"] = "wrong"
    headers["OK-ACCESS-SIGN"] = "bad"
    assert (await _raw(http, sandbox, headers))[1]["code"] == "50119"
    headers = okx.headers("alice", BALANCE)
    headers["OK-ACCESS-PASSPHRASE"] = "wrong"
    headers["OK-ACCESS-SIGN"] = "bad"
    assert (await _raw(http, sandbox, headers))[1]["code"] == "50105"
    headers = {**okx.headers("ip", BALANCE), "OK-ACCESS-SIGN": "bad"}
    assert (await _raw(http, sandbox, headers))[1]["code"] == "50113"


# -- what ccxt raises for each code (its own mapping, unpatched) ---------------------------


async def _ccxt_error(url: str, okx: Any, who: str = "alice", **config: Any) -> Exception:
    exchange = ccxt.okx(okx.ccxt_config(url, who, **config))
    try:
        with pytest.raises(ccxt.BaseError) as info:
            await exchange.private_get_account_balance()
    finally:
        await exchange.close()
    return info.value


async def test_ccxt_unknown_key_is_authentication_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, apiKey="nope")
    assert type(error) is ccxt.AuthenticationError
    assert '"50111"' in str(error)


async def test_ccxt_expired_timestamp_is_invalid_nonce(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, options={"timeDifference": 60_000})
    assert type(error) is ccxt.InvalidNonce
    assert '"50102"' in str(error)


async def test_ccxt_other_region_is_plain_exchange_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, "eea")
    assert type(error) is ccxt.ExchangeError
    assert '"50119"' in str(error)


async def test_ccxt_wrong_passphrase_is_authentication_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, password="wrong")
    assert type(error) is ccxt.AuthenticationError
    assert '"50105"' in str(error)


async def test_ccxt_wrong_secret_is_authentication_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, secret="wrong")
    assert type(error) is ccxt.AuthenticationError
    assert '"50113"' in str(error)


async def test_ccxt_demo_key_live_is_authentication_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, "demo")
    assert type(error) is ccxt.AuthenticationError
    assert '"50101"' in str(error)


async def test_ccxt_demo_key_in_sandbox_mode_works(sandbox: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(sandbox, "demo"))
    exchange.set_sandbox_mode(True)
    exchange.urls["api"]["rest"] = sandbox  # set_sandbox_mode swapped the URL back
    try:
        response = await exchange.private_get_account_balance()
    finally:
        await exchange.close()
    assert response["code"] == "0"


async def test_ccxt_ip_whitelist_is_permission_denied(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, "ip")
    assert type(error) is ccxt.PermissionDenied
    assert '"50110"' in str(error)


async def test_ccxt_no_read_permission_is_plain_exchange_error(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, "trade")
    assert type(error) is ccxt.ExchangeError
    assert '"50120"' in str(error)


async def test_ccxt_refuses_empty_credentials_before_sending(sandbox: str, okx: Any) -> None:
    error = await _ccxt_error(sandbox, okx, password="")
    assert type(error) is ccxt.AuthenticationError
    assert "password" in str(error)


async def test_secrets_never_in_error_bodies(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    headers = okx.headers("alice", BALANCE)
    headers["OK-ACCESS-PASSPHRASE"] = "wrong"
    async with http.get(sandbox + BALANCE, headers=headers) as response:
        text = await response.text()
    assert "alice-pass" not in text and "alice-secret" not in text and "wrong" not in text
