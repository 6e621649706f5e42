"""The Coinbase venue over raw HTTP: the JWT checks and the one 401 they share, scopes, the
wallets (holds inside the balance) in v3 and v2, fills and v2 transactions, products, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import control
from coinbase_support import (
    CB_BOB,
    CB_ED,
    CB_ED_PEM,
    CB_IP,
    CB_NO_VIEW,
    CB_READ,
    CB_TRADE,
    CB_TRANSFER,
    coinbase_state,
    fetch,
    signed,
)

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

V3 = "/api/v3/brokerage"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        yield server.url


def last_code(url: str) -> str:
    return str(control(url, "/__sandbox__/requests")[-1]["code"])


def test_es256_and_both_eddsa_forms_authenticate(url: str) -> None:
    for key in (CB_READ, CB_ED, CB_ED_PEM):
        status, body, headers = signed(url, f"{V3}/key_permissions", key=key)
        assert status == 200, (key["apiKey"], body)
        assert body["can_view"] is True and body["can_trade"] is False
    assert headers["x-ratelimit-limit"] == "30"


def test_ccxt_s_claims_are_accepted_a_uris_list_and_the_http_scheme(url: str) -> None:
    host = url.split("://")[1]
    status, _, _ = signed(url, f"{V3}/accounts", uri=f"GET {url}{V3}/accounts")
    assert status == 200  # ccxt strips only "https://": an http base URL is signed whole
    status, _, _ = signed(url, f"{V3}/accounts", key=CB_ED, uris=[f"GET {host}{V3}/accounts"])
    assert status == 200  # ccxt's EdDSA path


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"key": {**CB_READ, "apiKey": "organizations/x/apiKeys/nobody"}}, "unknown_key"),
        ({"secret": CB_TRADE["secret"]}, "bad_signature"),
        ({"key": CB_ED, "secret": CB_TRADE["secret"]}, "wrong_alg"),
        ({"now": time.time() - 300}, "expired"),
        ({"now": time.time() + 60}, "not_yet_valid"),
        ({"lifetime": 600}, "lifetime"),
        ({"uri": f"GET HOST{V3}/portfolios"}, "uri"),
        ({"uri": f"GET HOST{V3}/accounts?limit=2"}, "uri"),
        ({"uri": f"POST HOST{V3}/accounts"}, "uri"),
        ({"uri": f"GET api.coinbase.com{V3}/accounts"}, "uri"),
        ({"key": CB_IP}, "ip"),
    ],
    ids=[
        "unknown-key",
        "wrong-secret",
        "alg-of-another-key",
        "expired",
        "not-yet-valid",
        "too-long-lived",
        "other-path",
        "query-in-uri",
        "other-method",
        "other-host",
        "ip-not-allowed",
    ],  # fmt: skip
)
def test_every_auth_failure_is_the_same_401(url: str, change: dict[str, Any], reason: str) -> None:
    if "uri" in change:
        change = {"uri": change["uri"].replace("HOST", url.split("://")[1])}
    status, body, headers = signed(url, f"{V3}/accounts", **change)
    assert (status, body) == (401, "Unauthorized")
    assert headers["Content-Type"].startswith("text/plain")
    assert last_code(url) == f"401 {reason}"


def test_a_missing_or_garbled_header_is_401_too(url: str) -> None:
    assert fetch(url + f"{V3}/accounts")[:2] == (401, "Unauthorized")
    garbled = {"Authorization": "Bearer not.a.jwt"}
    status, body, _ = fetch(_request(url + "/v2/accounts", garbled))
    assert (status, body, last_code(url)) == (401, "Unauthorized", "401 malformed")


def _request(target: str, headers: dict[str, str]) -> Any:
    import urllib.request

    return urllib.request.Request(target, headers=headers)


def test_v3_wallets_count_the_hold_inside_and_page_by_cursor(url: str) -> None:
    _, first, _ = signed(url, f"{V3}/accounts", query="limit=2")
    assert first["has_next"] is True and first["size"] == 2 and first["cursor"]
    rows, cursor = list(first["accounts"]), first["cursor"]
    while cursor:
        _, page, _ = signed(url, f"{V3}/accounts", query=f"limit=2&cursor={cursor}")
        rows += page["accounts"]
        cursor = page["cursor"] if page["has_next"] else ""
    by_code = {row["currency"]: row for row in rows}
    btc = by_code["BTC"]
    assert btc["available_balance"]["value"] == "0.4000000000000000"
    assert btc["hold"]["value"] == "0.1000000000000000"  # 0.4 + 0.1 = the wallet's 0.5
    assert by_code["USD"]["type"] == "ACCOUNT_TYPE_FIAT" and by_code["USD"]["name"] == "Cash (USD)"
    assert by_code["SOL"]["available_balance"]["value"] == "0.0000000000000000"  # zero wallets
    assert "Staked ADA" not in {row["name"] for row in rows}  # v3 does not list staking wallets
    _, one, _ = signed(url, f"{V3}/accounts/{btc['uuid']}")
    assert one["account"] == btc


def test_v2_lists_the_same_wallets_and_the_staking_wallet(url: str) -> None:
    _, first, _ = signed(url, "/v2/accounts", query="limit=3")
    rows, after = list(first["data"]), first["pagination"]["next_starting_after"]
    while after:
        _, page, _ = signed(url, "/v2/accounts", query=f"limit=3&starting_after={after}")
        rows += page["data"]
        after = page["pagination"]["next_starting_after"]
    named = {row["name"]: row for row in rows}
    assert named["BTC Wallet"]["balance"] == {"amount": "0.50000000", "currency": "BTC"}
    staked = named["Staked ADA"]
    assert staked["primary"] is False and staked["currency"]["rewards"]["apy"] == "0.05"
    assert named["Cash (USD)"]["balance"]["amount"] == "1000.00"
    _, v3, _ = signed(url, f"{V3}/accounts", query="limit=250")
    v3_ids = {row["uuid"] for row in v3["accounts"]}
    assert {row["id"] for row in rows if row["primary"]} == v3_ids  # one wallet, two APIs
    _, by_code, _ = signed(url, "/v2/accounts/BTC")
    assert by_code["data"]["id"] == named["BTC Wallet"]["id"]
    status, body, _ = signed(url, "/v2/accounts/nope")
    assert (status, body) == (404, {"errors": [{"id": "not_found", "message": "Not found"}]})


def test_key_permissions_in_coinbase_words(url: str) -> None:
    _, trade, _ = signed(url, f"{V3}/key_permissions", key=CB_TRADE)
    _, transfer, _ = signed(url, f"{V3}/key_permissions", key=CB_TRANSFER)
    assert (trade["can_trade"], trade["can_transfer"]) == (True, False)
    assert (transfer["can_trade"], transfer["can_transfer"]) == (False, True)
    _, alice, _ = signed(url, f"{V3}/key_permissions")
    _, bob, _ = signed(url, f"{V3}/key_permissions", key=CB_BOB)
    assert alice["portfolio_uuid"] != bob["portfolio_uuid"]
    assert alice["portfolio_type"] == "DEFAULT"


def test_a_missing_scope_is_403_in_each_api_s_words(url: str) -> None:
    status, body, _ = signed(url, f"{V3}/accounts", key=CB_NO_VIEW)
    assert (status, body["error"], body["error_details"]) == (
        403, "PERMISSION_DENIED", "Missing required scopes",
    )  # fmt: skip
    status, body, _ = signed(url, f"{V3}/orders", method="POST", body={"product_id": "BTC-USD"})
    assert (status, body["error"]) == (403, "PERMISSION_DENIED")
    _, wallets, _ = signed(url, "/v2/accounts/BTC")
    send = f"/v2/accounts/{wallets['data']['id']}/transactions"
    status, body, _ = signed(url, send, method="POST", body={"type": "send"})
    assert (status, body["errors"][0]["id"]) == (403, "invalid_scope")
    status, body, _ = signed(url, f"{V3}/orders", key=CB_TRADE, method="POST", body={})
    assert status == 200 and body["success"] is False  # the sandbox places no orders


def test_fills_newest_first_with_a_cursor_and_quote_commissions(url: str) -> None:
    _, first, _ = signed(url, f"{V3}/orders/historical/fills", query="limit=3")
    assert [f["product_id"] for f in first["fills"]] == ["ETH-USD", "BTC-USD", "BTC-USD"]
    eth = first["fills"][0]
    assert (eth["side"], eth["size"], eth["commission"]) == ("SELL", "1", "2")
    _, rest, _ = signed(url, f"{V3}/orders/historical/fills", query=f"cursor={first['cursor']}")
    assert len(rest["fills"]) == 1 and rest["cursor"] == ""
    since = "2023-11-15T22:13:20Z"  # T0 + 1 day
    _, recent, _ = signed(
        url, f"{V3}/orders/historical/fills",
        query=f"product_id=BTC-USD&start_sequence_timestamp={since}",
    )  # fmt: skip
    assert [f["trade_time"] for f in recent["fills"]] == [
        "2023-11-16T22:13:20.000Z", "2023-11-15T22:13:20.000Z",
    ]  # fmt: skip
    assert recent["fills"][0]["commission"] == "20"  # USD, the quote


def test_v2_transactions_are_each_wallet_s_ledger(url: str) -> None:
    _, eth_wallet, _ = signed(url, "/v2/accounts/ETH")
    path = f"/v2/accounts/{eth_wallet['data']['id']}/transactions"
    _, page, _ = signed(url, path)
    rows = page["data"]
    assert [row["type"] for row in rows] == ["send", "advanced_trade_fill", "send"]
    withdrawal, fill, deposit = rows
    assert withdrawal["amount"] == {"amount": "-0.50100000", "currency": "ETH"}
    assert withdrawal["network"]["transaction_amount"]["amount"] == "0.50000000"
    assert withdrawal["network"]["transaction_fee"]["amount"] == "0.00100000"
    assert fill["amount"]["amount"] == "-1.00000000"  # sold 1 ETH; the commission sits here,
    assert fill["advanced_trade_fill"]["commission"] == "2"  # on the base row, outside amounts
    assert deposit["amount"]["amount"] == "1.00000000" and deposit["network"]["hash"] == "0xd2"
    _, usd_wallet, _ = signed(url, "/v2/accounts/USD")
    usd = f"/v2/accounts/{usd_wallet['data']['id']}"
    _, usd_page, _ = signed(url, usd + "/transactions", query="limit=2")
    assert usd_page["pagination"]["next_uri"] and len(usd_page["data"]) == 2
    _, oldest, _ = signed(url, usd + "/transactions", query="order=asc&limit=1")
    assert oldest["data"][0]["type"] == "fiat_deposit"
    _, bank, _ = signed(url, usd + "/deposits")
    assert [row["amount"]["amount"] for row in bank["data"]] == ["5000.00"]


def test_products_have_usdc_twins_and_a_percent_change_only(url: str) -> None:
    status, body, _ = fetch(url + f"{V3}/market/products")  # public: no JWT
    assert status == 200
    rows = {row["product_id"]: row for row in body["products"]}
    assert rows["BTC-USDC"]["alias"] == "BTC-USD" and rows["BTC-USD"]["alias_to"] == ["BTC-USDC"]
    assert rows["BTC-USD"]["price"] == "60000"
    assert rows["BTC-USD"]["price_percentage_change_24h"] == "3.44827586206897"
    assert "SOL-USDC" not in rows and "SOL-USDT" in rows  # only USD books have twins
    _, time_v3, _ = fetch(url + f"{V3}/time")
    assert time_v3["epochMillis"].isdigit() and time_v3["iso"].endswith("Z")
    _, time_v2, _ = fetch(url + "/v2/time")
    assert isinstance(time_v2["data"]["epoch"], int)


def test_faults_answer_in_each_api_s_words(url: str) -> None:
    control(url, "/__sandbox__/faults", {"path": f"{V3}/accounts", "mode": "http500"})
    status, body, _ = signed(url, f"{V3}/accounts")
    assert (status, body["error"]) == (500, "INTERNAL")
    control(url, "/__sandbox__/faults", {"path": "/v2/accounts", "mode": "rate_limit"})
    status, body, headers = signed(url, "/v2/accounts")
    assert (status, body["errors"][0]["id"]) == (429, "rate_limit_exceeded")
    assert int(headers["x-ratelimit-reset"]) >= int(time.time())
    control(url, "/__sandbox__/faults", {"path": f"{V3}/accounts", "mode": "rate_limit"})
    status, body, _ = signed(url, f"{V3}/accounts")
    assert (status, body["error"]) == (429, "RESOURCE_EXHAUSTED")
    assert fetch(url + f"{V3}/nothing-here")[:2] == (404, {
        "error": "NOT_FOUND", "error_details": "Not Found", "message": "Not Found",
    })  # fmt: skip


def test_a_control_trade_pays_its_fee_in_the_quote() -> None:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        trade = {"account": "alice", "symbol": "BTC-USD", "side": "buy", "amount": "0.01"}
        echo = control(server.url, "/__sandbox__/trade", trade)
        assert echo["fill"]["feeAsset"] == "USD" and echo["fill"]["fee"] == "0.60000"
        _, body, _ = signed(server.url, f"{V3}/accounts", query="limit=250")
    wallets = {row["currency"]: row for row in body["accounts"]}
    assert wallets["BTC"]["available_balance"]["value"] == "0.4100000000000000"
    usd = wallets["USD"]
    assert usd["available_balance"]["value"] == "199.4000000000000000"  # 1000 - 600.6 - 200 held


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        ({"secret": "not a key"}, "keys[0]", "expected an EC P-256 PEM"),
        ({"feeAsset": "BTC"}, "fills[0].feeAsset", "Coinbase charges fees in the quote (USD)"),
        ({"holds": {"BTC": "9"}}, "holds.BTC", "a hold is part of the wallet"),
    ],
)
def test_a_bad_state_names_the_field(change: dict[str, Any], where: str, problem: str) -> None:
    data = coinbase_state()
    if "secret" in change:
        data["keys"][0]["secret"] = change["secret"]
    elif "feeAsset" in change:
        data["accounts"]["alice"]["fills"][0]["feeAsset"] = change["feeAsset"]
    else:
        data["accounts"]["alice"]["holds"] = change["holds"]
    with pytest.raises(SandboxStateError) as raised:
        parse_state(json.loads(json.dumps(data)), origin="cb.json")
    assert "cb.json: " in str(raised.value) and where in str(raised.value)
    assert problem in str(raised.value)
