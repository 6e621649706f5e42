"""Control API: faults, trades, balances, tickers, the request log, rate limits, latency."""

from __future__ import annotations

import socket
import time
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from keyfolio.sandbox.core.control import is_loopback
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState

FUNDING = "/api/v5/asset/balances"
BALANCE = "/api/v5/account/balance"


async def _fault(http: aiohttp.ClientSession, url: str, okx: Any, **body: Any) -> None:
    status, answer = await okx.control(http, url + "/__sandbox__/faults", "POST", body)
    assert status == 200, answer


async def _signed(
    http: aiohttp.ClientSession, url: str, okx: Any, path: str, who: str = "alice"
) -> tuple[int, str]:
    async with http.get(url + path, headers=okx.headers(who, path)) as response:
        return response.status, await response.text()


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "code", "ccxt_error"),
    [
        ("http500", 500, "50026", ccxt.ExchangeNotAvailable),
        ("code50001", 503, "50001", ccxt.OnMaintenance),
        ("code50011", 429, "50011", ccxt.RateLimitExceeded),
    ],
)
async def test_error_faults(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, mode: str, status: int, code: str,
    ccxt_error: type[Exception],
) -> None:  # fmt: skip
    await _fault(http, sandbox, okx, path=FUNDING, mode=mode, count=2)
    got_status, text = await _signed(http, sandbox, okx, FUNDING)
    assert got_status == status and f'"code":"{code}"' in text and '"data":[]' in text
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        with pytest.raises(ccxt_error):
            await exchange.private_get_asset_balances()
        ok = await exchange.private_get_asset_balances()  # count consumed: back to normal
    finally:
        await exchange.close()
    assert ok["code"] == "0"


async def test_fault_messages(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="http500")
    status, body = await okx.get(http, sandbox + FUNDING, okx.headers("alice", FUNDING))
    assert (status, body) == (
        500, {"code": "50026", "data": [], "msg": "System error. Try again later"},
    )  # fmt: skip
    await _fault(http, sandbox, okx, path=FUNDING, mode="code50011")
    status, body = await okx.get(http, sandbox + FUNDING, okx.headers("alice", FUNDING))
    assert (status, body["msg"]) == (429, "Too Many Requests")


async def test_malformed_fault(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="malformed", count=2)
    status, text = await _signed(http, sandbox, okx, FUNDING)
    assert status == 200
    with pytest.raises(ValueError):
        __import__("json").loads(text)
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        raw = await exchange.private_get_asset_balances()
    finally:
        await exchange.close()
    # ccxt's implicit API hands the unparsable text through: the caller must check it
    assert isinstance(raw, str) and raw.startswith('{"code":"0"')


async def test_timeout_fault_outlasts_the_client(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="timeout", seconds=30)
    exchange = ccxt.okx(okx.ccxt_config(sandbox, timeout=200))
    try:
        with pytest.raises(ccxt.RequestTimeout):
            await exchange.private_get_asset_balances()
        exchange.timeout = 30_000  # the next answer is not raced against 200 ms
        assert (await exchange.private_get_asset_balances())["code"] == "0"
    finally:
        await exchange.close()
    # leaving the fixture shuts the server down, which releases the held request


async def test_timeout_fault_answers_50004_when_released(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="timeout", seconds=0)
    status, body = await okx.get(http, sandbox + FUNDING, okx.headers("alice", FUNDING))
    assert (status, body["code"]) == (400, "50004")


async def test_faults_apply_before_auth(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="code50001")
    status, body = await okx.get(http, sandbox + FUNDING)  # no credentials at all
    assert (status, body["code"]) == (503, "50001")


async def test_star_fault_hits_every_private_path_only(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path="*", mode="http500", count=2)
    status, _ = await okx.get(http, sandbox + "/api/v5/public/time")
    assert status == 200
    assert (await _signed(http, sandbox, okx, BALANCE))[0] == 500
    assert (await _signed(http, sandbox, okx, FUNDING))[0] == 500
    assert (await _signed(http, sandbox, okx, FUNDING))[0] == 200


async def test_fault_on_a_public_path(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    await _fault(http, sandbox, okx, path="/api/v5/market/tickers", mode="code50001")
    status, body = await okx.get(http, sandbox + "/api/v5/market/tickers?instType=SPOT")
    assert (status, body["code"]) == (503, "50001")


async def test_fault_listing_and_clearing(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="timeout", count=3, seconds=5)
    status, body = await okx.control(http, sandbox + "/__sandbox__/faults", "GET")
    assert body == {
        "faults": [{"path": FUNDING, "mode": "timeout", "count": 3, "seconds": 5.0, "after": 0}]
    }
    await okx.control(http, sandbox + "/__sandbox__/faults", "DELETE")
    assert (await _signed(http, sandbox, okx, FUNDING))[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"path": FUNDING, "mode": "explode"},
        {"path": "api/v5", "mode": "http500"},
        {"path": FUNDING, "mode": "http500", "count": 0},
        {"path": FUNDING, "mode": "http500", "extra": 1},
        {"path": FUNDING, "mode": "http500", "after": -1},
        {"path": FUNDING, "mode": "hold", "after": True},
        [],
    ],
)
async def test_bad_fault_bodies(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, body: Any
) -> None:
    status, answer = await okx.control(http, sandbox + "/__sandbox__/faults", "POST", body)
    assert status == 400 and answer["error"]


# -- trade, balances, tickers -------------------------------------------------------------


async def _balances(http: aiohttp.ClientSession, url: str, okx: Any) -> dict[str, str]:
    _, body = await okx.get(http, url + BALANCE, okx.headers("alice", BALANCE))
    return {d["ccy"]: d["cashBal"] for d in body["data"][0]["details"]}


async def test_trade_buy_charges_fee_in_base(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, answer = await okx.control(
        http, sandbox + "/__sandbox__/trade", "POST",
        {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01", "px": "50000"},
    )  # fmt: skip
    assert status == 200
    fill = answer["fill"]
    assert (fill["side"], fill["fillPx"], fill["fillSz"], fill["fee"], fill["feeCcy"]) == (
        "buy", "50000", "0.01", "-0.00001", "BTC",
    )  # fmt: skip
    assert await _balances(http, sandbox, okx) == {"BTC": "0.50999", "USDT": "500", "ZZZ": "7"}
    path = "/api/v5/trade/fills-history?instType=SPOT&limit=1"
    _, fills = await okx.get(http, sandbox + path, okx.headers("alice", path))
    assert fills["data"][0]["billId"] == fill["billId"]
    path = "/api/v5/account/bills?limit=2"
    _, bills = await okx.get(http, sandbox + path, okx.headers("alice", path))
    assert {b["ccy"]: (b["balChg"], b["bal"]) for b in bills["data"]} == {
        "BTC": ("0.00999", "0.50999"),
        "USDT": ("-500", "500"),
    }


async def test_trade_sell_at_last_charges_fee_in_quote(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, answer = await okx.control(
        http, sandbox + "/__sandbox__/trade", "POST",
        {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.5"},
    )  # fmt: skip
    assert status == 200
    assert (answer["fill"]["fee"], answer["fill"]["feeCcy"]) == ("-30", "USDT")
    assert await _balances(http, sandbox, okx) == {"USDT": "30970", "ZZZ": "7"}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"account": "nobody", "instId": "BTC-USDT", "side": "buy", "sz": "1"}, 404, "account"),
        ({"account": "alice", "instId": "DOGE-USDT", "side": "buy", "sz": "1"}, 400, "instrument"),
        ({"account": "alice", "instId": "BTC-USDT", "side": "hold", "sz": "1"}, 400, "side"),
        ({"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "1"}, 400, "insufficient"),
        ({"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": 1}, 400, "sz"),
        ({"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "-1"}, 400, "sz"),
    ],
)
async def test_trade_errors(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, body: Any, status: int, needle: str
) -> None:
    got, answer = await okx.control(http, sandbox + "/__sandbox__/trade", "POST", body)
    assert got == status and needle in answer["error"]


@pytest.mark.parametrize(
    ("source", "path", "check"),
    [
        ("trading", BALANCE, lambda d: {x["ccy"]: x["eq"] for x in d[0]["details"]}["SOL"]),
        ("funding", FUNDING, lambda d: {x["ccy"]: x["bal"] for x in d}["SOL"]),
        ("savings", "/api/v5/finance/savings/balance",
         lambda d: {x["ccy"]: x["amt"] for x in d}["SOL"]),
        ("onchain_earn", "/api/v5/finance/staking-defi/orders-active",
         lambda d: d[0]["investData"][0]["amt"]),
    ],
)  # fmt: skip
async def test_set_balance_in_every_source(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, source: str, path: str, check: Any
) -> None:
    status, _ = await okx.control(
        http, sandbox + "/__sandbox__/balances", "POST",
        {"account": "alice", "source": source, "ccy": "SOL", "amount": "3.25"},
    )  # fmt: skip
    assert status == 200
    _, body = await okx.get(http, sandbox + path, okx.headers("alice", path))
    assert check(body["data"]) == "3.25"


async def test_set_balance_to_zero_removes_it(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await okx.control(
        http, sandbox + "/__sandbox__/balances", "POST",
        {"account": "alice", "source": "funding", "ccy": "ETH", "amount": "0"},
    )  # fmt: skip
    _, body = await okx.get(http, sandbox + FUNDING, okx.headers("alice", FUNDING))
    assert [r["ccy"] for r in body["data"]] == ["USDT"]


@pytest.mark.parametrize(
    "body",
    [
        {"account": "alice", "source": "wallet", "ccy": "ETH", "amount": "1"},
        {"account": "alice", "source": "funding", "ccy": "eth", "amount": "1"},
        {"account": "alice", "source": "funding", "ccy": "ETH", "amount": "-1"},
        {"account": "alice", "source": "funding", "ccy": "ETH"},
    ],
)
async def test_bad_balance_bodies(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, body: Any
) -> None:
    status, answer = await okx.control(http, sandbox + "/__sandbox__/balances", "POST", body)
    assert status == 400 and answer["error"]


async def test_tickers_update_prices_and_add_instruments(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    status, answer = await okx.control(
        http, sandbox + "/__sandbox__/tickers", "POST",
        {"BTC-USDT": {"last": "61000"}, "ZZZ-USDT": {"last": "0.5"}},
    )  # fmt: skip
    assert (status, answer["updated"]) == (200, ["BTC-USDT", "ZZZ-USDT"])
    _, body = await okx.get(http, sandbox + "/api/v5/market/ticker?instId=ZZZ-USDT")
    assert (body["data"][0]["last"], body["data"][0]["open24h"]) == ("0.5", "0.5")
    _, body = await okx.get(http, sandbox + "/api/v5/market/ticker?instId=BTC-USDT")
    assert (body["data"][0]["last"], body["data"][0]["open24h"]) == ("61000", "58000")
    assert body["data"][0]["high24h"] == "61000"
    _, body = await okx.get(http, sandbox + BALANCE, okx.headers("alice", BALANCE))
    eq_usd = {d["ccy"]: d["eqUsd"] for d in body["data"][0]["details"]}
    assert eq_usd == {"BTC": "30500", "USDT": "1000", "ZZZ": "3.5"}


@pytest.mark.parametrize(
    "body",
    [{"BTCUSDT": {"last": "1"}}, {"NEW-USDT": {"open24h": "1"}}, {"BTC-USDT": {"last": 1}},
     {"BTC-USDT": {"bid": "1"}}, {"BTC-USDT": "1"}],
)  # fmt: skip
async def test_bad_ticker_bodies(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, body: Any
) -> None:
    status, answer = await okx.control(http, sandbox + "/__sandbox__/tickers", "POST", body)
    assert status == 400 and answer["error"]


async def test_control_body_must_be_json(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with http.post(sandbox + "/__sandbox__/trade", data="{nope") as response:
        assert response.status == 400
        assert "not JSON" in (await response.json())["error"]


# -- request log --------------------------------------------------------------------------


async def test_request_log_counts_signed_requests(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _signed(http, sandbox, okx, BALANCE)
    await okx.control(http, sandbox + "/__sandbox__/reset-log", "POST")
    await _signed(http, sandbox, okx, BALANCE + "?ccy=BTC")
    headers = {**okx.headers("alice", FUNDING), "OK-ACCESS-PASSPHRASE": "wrong"}
    await okx.get(http, sandbox + FUNDING, headers)
    await okx.get(http, sandbox + "/api/v5/public/time")
    await okx.get(http, sandbox + "/nowhere")
    status, log = await okx.control(http, sandbox + "/__sandbox__/requests", "GET")
    assert status == 200
    assert log == [
        {"method": "GET", "path": BALANCE + "?ccy=BTC", "key": "alice-key", "code": "0",
         "status": 200},
        {"method": "GET", "path": FUNDING, "key": "alice-key", "code": "50105", "status": 401},
        {"method": "GET", "path": "/api/v5/public/time", "key": None, "code": "0", "status": 200},
        {"method": "GET", "path": "/nowhere", "key": None, "code": "404", "status": 404},
    ]  # fmt: skip
    text = str(log)
    assert "alice-secret" not in text and "alice-pass" not in text


async def test_request_log_records_faults(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _fault(http, sandbox, okx, path=FUNDING, mode="http500")
    await _signed(http, sandbox, okx, FUNDING)
    _, log = await okx.control(http, sandbox + "/__sandbox__/requests", "GET")
    assert log[-1] == {
        "method": "GET", "path": FUNDING, "key": "alice-key", "code": "50026", "status": 500,
    }  # fmt: skip


# -- loopback only ------------------------------------------------------------------------


def test_is_loopback() -> None:
    for peer in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(peer), peer
    for peer in ("192.0.2.2", "10.0.0.1", "fd00::2", None, "", "garbage"):
        assert not is_loopback(peer), peer


def _outside_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))  # UDP connect sends no packet
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if is_loopback(address) or address == "0.0.0.0" else address


async def test_control_api_refuses_non_loopback_callers(
    state: SandboxState, http: aiohttp.ClientSession, okx: Any
) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    async with run_sandbox(state, host="0.0.0.0") as url:
        port = url.rsplit(":", 1)[1]
        outside = f"http://{address}:{port}"
        status, body = await okx.control(http, outside + "/__sandbox__/requests", "GET")
        assert status == 403 and "loopback" in body["error"]
        status, _ = await okx.control(http, url + "/__sandbox__/requests", "GET")
        assert status == 200
        # the OKX API itself answers any caller; the ip-bound key sees the caller's address
        status, body = await okx.get(http, outside + BALANCE, okx.headers("ip", BALANCE))
        assert body["msg"] == f"Your IP {address} is not included in your API key's IP whitelist."


# -- rate limits and latency --------------------------------------------------------------


async def test_private_rate_limit_per_key_per_endpoint(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    answers = [await _signed(http, sandbox, okx, BALANCE) for _ in range(11)]
    assert [status for status, _ in answers[:10]] == [200] * 10
    status, text = answers[10]
    assert status == 429 and '"code":"50011"' in text and "Too Many Requests" in text
    assert (await _signed(http, sandbox, okx, FUNDING))[0] == 200  # other endpoint
    assert (await _signed(http, sandbox, okx, BALANCE, "bob"))[0] == 200  # other key


async def test_rate_limit_seen_by_ccxt(sandbox: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        await exchange.private_get_asset_asset_valuation()  # 1 per second
        with pytest.raises(ccxt.RateLimitExceeded):
            await exchange.private_get_asset_asset_valuation()
    finally:
        await exchange.close()


async def test_public_rate_limit_per_ip(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    path = sandbox + "/api/v5/market/tickers?instType=SPOT"
    statuses = [(await okx.get(http, path))[0] for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    status, body = await okx.get(http, path)
    assert (status, body["code"]) == (429, "50011")


async def test_no_rate_limit_option(
    state: SandboxState, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with run_sandbox(state, rate_limit=False) as url:
        statuses = [(await _signed(http, url, okx, BALANCE))[0] for _ in range(25)]
    assert statuses == [200] * 25


async def test_latency_delays_responses(
    state: SandboxState, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with run_sandbox(state, latency_ms=60) as url:
        started = time.monotonic()
        status, body = await okx.get(http, url + "/api/v5/public/time")
        elapsed = time.monotonic() - started
    assert (status, body["code"]) == (200, "0")
    assert elapsed >= 0.05  # a lower bound only: the sleep is in the handler
