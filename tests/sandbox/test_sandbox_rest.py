"""REST endpoints: exact shapes, string numbers, filters and paging."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import parse_state


def _all_numbers_are_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_all_numbers_are_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_numbers_are_strings(v) for v in value)
    return isinstance(value, str | bool) or value is None


class Api:
    def __init__(self, url: str, http: aiohttp.ClientSession, okx: Any) -> None:
        self.url, self.http, self.okx = url, http, okx

    async def get(self, path: str, who: str | None = "alice") -> tuple[int, dict[str, Any]]:
        headers = self.okx.headers(who, path) if who else {}
        status, body = await self.okx.get(self.http, self.url + path, headers)
        assert isinstance(body["data"], list)
        assert _all_numbers_are_strings(body), body
        return status, body

    async def data(self, path: str, who: str | None = "alice") -> list[Any]:
        status, body = await self.get(path, who)
        assert (status, body["code"], body["msg"]) == (200, "0", ""), body
        return body["data"]


@pytest.fixture
def api(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> Api:
    return Api(sandbox, http, okx)


async def test_public_time_is_real_time(api: Api) -> None:
    before = time.time_ns() // 1_000_000
    [row] = await api.data("/api/v5/public/time", None)
    after = time.time_ns() // 1_000_000
    assert before <= int(row["ts"]) <= after


async def test_trading_balance(api: Api) -> None:
    [data] = await api.data("/api/v5/account/balance")
    for field in ("totalEq", "isoEq", "adjEq", "availEq", "ordFroz", "imr", "mmr", "mgnRatio",
                  "notionalUsd", "upl", "uTime"):  # fmt: skip
        assert isinstance(data[field], str), field
    details = {d["ccy"]: d for d in data["details"]}
    assert set(details) == {"BTC", "USDT", "ZZZ"}  # ETH is zero: not listed
    btc = details["BTC"]
    assert (btc["eq"], btc["cashBal"], btc["availBal"], btc["availEq"]) == ("0.5",) * 4
    assert (btc["frozenBal"], btc["eqUsd"], btc["upl"], btc["liab"]) == ("0", "30000", "0", "")
    assert details["USDT"]["eqUsd"] == "1000"
    assert details["ZZZ"]["eqUsd"] == "0"  # no market prices ZZZ
    assert data["totalEq"] == "31000"
    assert "coinUsdPrice" not in btc
    assert int(btc["uTime"]) > 0


async def test_trading_balance_ccy_filter(api: Api) -> None:
    [data] = await api.data("/api/v5/account/balance?ccy=BTC,ETH")
    assert [d["ccy"] for d in data["details"]] == ["BTC"]
    assert data["totalEq"] == "31000"


async def test_funding_balance(api: Api) -> None:
    rows = await api.data("/api/v5/asset/balances")
    assert rows == [
        {"availBal": "2", "bal": "2", "ccy": "ETH", "frozenBal": "0"},
        {"availBal": "50", "bal": "50", "ccy": "USDT", "frozenBal": "0"},
    ]
    assert [r["ccy"] for r in await api.data("/api/v5/asset/balances?ccy=USDT")] == ["USDT"]


async def test_savings(api: Api) -> None:
    rows = {r["ccy"]: r for r in await api.data("/api/v5/finance/savings/balance")}
    assert rows["USDT"] == {
        "amt": "500", "ccy": "USDT", "earnings": "0", "loanAmt": "500", "pendingAmt": "0",
        "rate": "0.01", "redemptAmt": "",
    }  # fmt: skip
    assert (rows["ETH"]["earnings"], rows["ETH"]["rate"]) == ("0.01", "0.02")
    filtered = await api.data("/api/v5/finance/savings/balance?ccy=ETH")
    assert [r["ccy"] for r in filtered] == ["ETH"]


async def test_onchain_earn_orders(api: Api) -> None:
    [row] = await api.data("/api/v5/finance/staking-defi/orders-active")
    assert row["ccy"] == "SOL" and row["productId"] == "1234" and row["state"] == "1"
    assert row["protocol"] == "Solana staking" and row["protocolType"] == "defi"
    assert row["apy"] == "0.07"
    assert row["investData"] == [{"ccy": "SOL", "amt": "10"}]
    assert row["earningData"] == [{"ccy": "SOL", "earningType": "0", "earnings": "0"}]
    assert row["ordId"].isdigit() and row["purchasedTime"].isdigit()
    assert await api.data("/api/v5/finance/staking-defi/orders-active?ccy=ETH") == []
    assert await api.data("/api/v5/finance/staking-defi/orders-active?productId=1234") != []


async def test_eth_staking(api: Api) -> None:
    [row] = await api.data("/api/v5/finance/staking-defi/eth/balance")
    assert (row["ccy"], row["amt"]) == ("BETH", "0.25")


async def test_eth_staking_empty_for_account_without(api: Api) -> None:
    assert await api.data("/api/v5/finance/staking-defi/eth/balance", "bob") == []


async def test_account_config(api: Api) -> None:
    [row] = await api.data("/api/v5/account/config")
    assert (row["perm"], row["label"], row["ip"]) == ("read_only", "alice", "")
    assert row["uid"] == row["mainUid"] and row["uid"].isdigit()
    assert row["acctLv"] in ("1", "2", "3", "4")
    [bob] = await api.data("/api/v5/account/config", "bob")
    assert bob["uid"] != row["uid"]


async def test_asset_valuation(api: Api) -> None:
    [row] = await api.data("/api/v5/asset/asset-valuation?ccy=USDT")
    # trading 31000 (ZZZ unpriced), funding 2 ETH + 50 USDT, earn 500 USDT + 1.5 ETH (SOL unpriced)
    assert row["details"] == {"classic": "0", "earn": "5000", "funding": "6050", "trading": "31000"}
    assert row["totalBal"] == "42050"
    await api.okx.control(api.http, api.url + "/__sandbox__/reset-limits", "POST")  # 1 per s
    [btc] = await api.data("/api/v5/asset/asset-valuation")
    assert Decimal(btc["totalBal"]) == (Decimal(42050) / 60000).quantize(Decimal("1e-8"))


async def test_asset_currencies(api: Api) -> None:
    rows = await api.data("/api/v5/asset/currencies")
    codes = {r["ccy"] for r in rows}
    assert {"BTC", "USDT", "ETH", "XYZ", "USDC", "ABC", "ZZZ", "SOL"} <= codes
    btc = next(r for r in rows if r["ccy"] == "BTC")
    assert btc["chain"] == "BTC-Bitcoin" and btc["canDep"] is True
    assert [r["ccy"] for r in await api.data("/api/v5/asset/currencies?ccy=ETH")] == ["ETH"]


async def test_positions_empty(api: Api) -> None:
    assert await api.data("/api/v5/account/positions") == []


async def test_instruments(api: Api) -> None:
    rows = await api.data("/api/v5/public/instruments?instType=SPOT", None)
    by_id = {r["instId"]: r for r in rows}
    assert set(by_id) == {"BTC-USDT", "ETH-USDT", "XYZ-USDC", "ABC-BTC"}
    btc = by_id["BTC-USDT"]
    assert (btc["instType"], btc["baseCcy"], btc["quoteCcy"], btc["state"]) == (
        "SPOT", "BTC", "USDT", "live",
    )  # fmt: skip
    assert btc["ctVal"] == "" and btc["tickSz"] and btc["lotSz"] and btc["minSz"]
    for inst_type in ("FUTURES", "SWAP"):
        assert await api.data(f"/api/v5/public/instruments?instType={inst_type}", None) == []
    assert await api.data("/api/v5/public/instruments?instType=OPTION&uly=BTC-USD", None) == []
    only = await api.data("/api/v5/public/instruments?instType=SPOT&instId=ETH-USDT", None)
    assert [r["instId"] for r in only] == ["ETH-USDT"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v5/public/instruments",
        "/api/v5/public/instruments?instType=OPTION",
        "/api/v5/market/tickers",
        "/api/v5/market/ticker",
        "/api/v5/market/index-tickers",
    ],
)
async def test_public_parameter_errors(api: Api, path: str) -> None:
    status, body = await api.get(path, None)
    assert (status, body["code"]) == (400, "51000")
    assert body["msg"].startswith("Parameter ")


async def test_tickers(api: Api) -> None:
    rows = await api.data("/api/v5/market/tickers?instType=SPOT", None)
    btc = next(r for r in rows if r["instId"] == "BTC-USDT")
    assert (btc["last"], btc["open24h"], btc["high24h"], btc["low24h"]) == (
        "60000", "58000", "60000", "58000",
    )  # fmt: skip
    for field in ("askPx", "bidPx", "vol24h", "volCcy24h", "sodUtc0", "sodUtc8", "ts"):
        assert isinstance(btc[field], str)
    eth = next(r for r in rows if r["instId"] == "ETH-USDT")
    assert eth["open24h"] == "3000"
    assert await api.data("/api/v5/market/tickers?instType=SWAP", None) == []
    [one] = await api.data("/api/v5/market/ticker?instId=ETH-USDT", None)
    assert one["last"] == "3000"
    status, body = await api.get("/api/v5/market/ticker?instId=NOPE-USDT", None)
    assert (status, body["code"]) == (400, "51001")


async def test_index_tickers(api: Api) -> None:
    rows = {
        r["instId"]: r for r in await api.data("/api/v5/market/index-tickers?quoteCcy=USD", None)
    }
    assert rows["BTC-USD"]["idxPx"] == "60000" and rows["BTC-USD"]["open24h"] == "58000"
    assert rows["XYZ-USD"]["idxPx"] == "2"
    assert rows["ABC-USD"]["idxPx"] == "6"
    [one] = await api.data("/api/v5/market/index-tickers?instId=ETH-USDT", None)
    assert one["idxPx"] == "3000"


async def test_unknown_path_is_json_404(api: Api) -> None:
    status, body = await api.okx.get(api.http, api.url + "/api/v5/nothing/here")
    assert (status, body) == (404, {"code": "404", "data": [], "msg": "Not Found"})


async def test_wrong_method_is_json_405(api: Api) -> None:
    async with api.http.post(api.url + "/api/v5/account/balance") as response:
        assert response.status == 405
        assert (await response.json())["code"] == "405"


# -- history ------------------------------------------------------------------------------


def _fills(count: int, start: int) -> list[dict[str, str]]:
    return [
        {"instId": "BTC-USDT" if i % 2 else "ETH-USDT", "side": "buy", "fillPx": "100",
         "fillSz": "1", "fee": "-0.001", "ts": str(start + i * 1000)}
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
async def many(http: aiohttp.ClientSession, okx: Any) -> Any:
    data = {
        "tickers": {"BTC-USDT": {"last": "1"}},
        "keys": [{"perm": "read_only", "account": "alice", **okx.keys["alice"]}],
        "accounts": {
            "alice": {
                "fills": _fills(250, okx.t0),
                "deposits": [
                    {"ccy": "USDT", "amt": str(i + 1), "ts": str(okx.t0 + i)} for i in range(150)
                ],
            }
        },
    }
    async with run_sandbox(parse_state(data), rate_limit=False) as url:
        yield Api(url, http, okx)


async def test_fills_require_inst_type(api: Api) -> None:
    for path in ("/api/v5/trade/fills-history", "/api/v5/trade/fills?instType=BOND"):
        status, body = await api.get(path)
        assert (status, body["code"], body["msg"]) == (400, "51000", "Parameter instType error")


async def test_fill_row_shape(api: Api) -> None:
    rows = await api.data("/api/v5/trade/fills-history?instType=SPOT")
    assert [r["instId"] for r in rows] == ["ETH-USDT", "BTC-USDT"]  # newest first
    eth, btc = rows
    assert (btc["side"], btc["fillPx"], btc["fillSz"], btc["fee"], btc["feeCcy"]) == (
        "buy", "40000", "0.5", "-0.0005", "BTC",
    )  # fmt: skip
    assert (eth["subType"], eth["fee"], eth["feeCcy"], eth["feeRate"]) == (
        "2",
        "-2",
        "USDT",
        "-0.001",
    )
    assert btc["ts"] == btc["fillTime"] == str(api.okx.t0)
    assert int(eth["billId"]) > int(btc["billId"])
    assert all(r[f].isdigit() for r in rows for f in ("billId", "tradeId", "ordId"))
    assert await api.data("/api/v5/trade/fills?instType=SPOT") == rows
    assert await api.data("/api/v5/trade/fills-history?instType=SWAP") == []


async def test_ids_are_deterministic(state: Any, http: aiohttp.ClientSession, okx: Any) -> None:
    seen = []
    for _ in range(2):
        async with run_sandbox(state) as url:
            path = "/api/v5/trade/fills-history?instType=SPOT"
            seen.append(await Api(url, http, okx).data(path))
    assert seen[0] == seen[1]


async def test_fills_paging_by_bill_id(many: Api) -> None:
    path = "/api/v5/trade/fills-history?instType=SPOT"
    first = await many.data(path)
    assert len(first) == 100
    ts = [int(r["ts"]) for r in first]
    assert ts == sorted(ts, reverse=True)
    second = await many.data(f"{path}&after={first[-1]['billId']}")
    third = await many.data(f"{path}&after={second[-1]['billId']}&limit=100")
    assert (len(second), len(third)) == (100, 50)
    ids = [r["billId"] for r in first + second + third]
    assert len(set(ids)) == 250
    newer = await many.data(f"{path}&before={second[0]['billId']}&limit=3")
    assert [r["billId"] for r in newer] == [r["billId"] for r in first[-3:]]


async def test_fills_filters(many: Api) -> None:
    path = "/api/v5/trade/fills-history?instType=SPOT"
    begin, end = many.okx.t0 + 10_000, many.okx.t0 + 19_000
    rows = await many.data(f"{path}&begin={begin}&end={end}")
    assert [int(r["ts"]) for r in rows] == list(range(end, begin - 1, -1000))
    btc = await many.data(f"{path}&instId=BTC-USDT&limit=5")
    assert len(btc) == 5 and {r["instId"] for r in btc} == {"BTC-USDT"}


async def test_fills_limit_is_capped_at_100(many: Api) -> None:
    rows = await many.data("/api/v5/trade/fills-history?instType=SPOT&limit=1000")
    assert len(rows) == 100


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "after=abc", "begin=-1"])
async def test_fills_bad_paging_parameters(many: Api, query: str) -> None:
    status, body = await many.get(f"/api/v5/trade/fills-history?instType=SPOT&{query}")
    assert (status, body["code"]) == (400, "51000")


async def test_bills(api: Api) -> None:
    rows = await api.data("/api/v5/account/bills")
    assert len(rows) == 4  # two fills, a base and a quote bill each
    ids = [int(r["billId"]) for r in rows]
    assert ids == sorted(ids, reverse=True)
    usdt = [r for r in rows if r["ccy"] == "USDT"]
    # newest first: the ETH sell credited 2000 - 2 fee; the BTC buy spent 20000
    assert [r["balChg"] for r in usdt] == ["1998", "-20000"]
    assert usdt[0]["bal"] == "1000" and usdt[1]["bal"] == "-998"
    assert {r["type"] for r in rows} == {"2"}
    assert await api.data("/api/v5/account/bills-archive") == rows
    btc_only = await api.data("/api/v5/account/bills?ccy=BTC")
    assert [r["balChg"] for r in btc_only] == ["0.4995"]


async def test_deposits_and_withdrawals(api: Api) -> None:
    deposits = await api.data("/api/v5/asset/deposit-history")
    assert [d["ccy"] for d in deposits] == ["ETH", "USDT"]
    eth = deposits[0]
    assert (eth["amt"], eth["txId"], eth["state"], eth["chain"]) == ("3", "0xabc", "2", "ETH-ERC20")
    assert eth["depId"].isdigit() and eth["ts"] == str(api.okx.t0 - 5_000_000)
    assert [d["ccy"] for d in await api.data("/api/v5/asset/deposit-history?ccy=USDT")] == ["USDT"]
    [wd] = await api.data("/api/v5/asset/withdrawal-history")
    assert (wd["ccy"], wd["amt"], wd["fee"], wd["feeCcy"], wd["state"]) == (
        "USDT", "100", "1", "USDT", "2",
    )  # fmt: skip


async def test_deposits_paging_by_ts(many: Api) -> None:
    path = "/api/v5/asset/deposit-history"
    first = await many.data(path)
    assert len(first) == 100 and first[0]["amt"] == "150"
    rest = await many.data(f"{path}&after={first[-1]['ts']}".replace("history&", "history?"))
    assert len(rest) == 50 and rest[0]["amt"] == "50"
    since = many.okx.t0 + 139
    newer = await many.data(f"{path}?before={since}")
    assert [d["amt"] for d in newer] == [str(i) for i in range(150, 140, -1)]
