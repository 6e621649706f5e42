"""The Coinbase sandbox judged by clients it did not write: coinbase-advanced-py and ccxt, each
changed only in its base URL.

The SDK always requests ``https://{base_url}`` and signs ``uri = "METHOD {base_url}{path}"``, so
it meets the sandbox over HTTPS (``SandboxThread(ssl_context=...)``) with ``base_url`` set to
``127.0.0.1:PORT``; it trusts the test certificate through ``REQUESTS_CA_BUNDLE``, the standard
``requests`` setting, so nothing in the client is patched or replaced.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
from coinbase.rest import RESTClient
from coinbase_support import CB_ED, CB_ED_PEM, CB_NO_VIEW, CB_READ, CB_TRADE, coinbase_state
from requests.exceptions import HTTPError
from tls_support import make_cert

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS sandbox (its host:port) and the certificate clients must trust."""
    files = make_cert(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    state = parse_state(coinbase_state())
    with SandboxThread(state, rate_limit=False, ssl_context=context) as server:
        yield server.url.removeprefix("https://"), files.cert


@pytest.fixture
def sdk(tls: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``RESTClient(key, secret, base_url=host:port)``, the CA bundle given as requests reads it;
    each client's session is closed after the test."""
    host, cert = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    made: list[RESTClient] = []

    def make(key: dict[str, str] = CB_READ) -> RESTClient:
        made.append(RESTClient(api_key=key["apiKey"], api_secret=key["secret"], base_url=host))
        return made[-1]

    yield make
    for client in made:
        client.session.close()


@pytest.mark.parametrize("key", [CB_READ, CB_ED, CB_ED_PEM], ids=["ecdsa", "ed25519", "ed-pem"])
def test_the_sdk_reads_wallets_page_by_page_with_each_key_kind(
    sdk: Any, key: dict[str, str]
) -> None:
    client = sdk(key)
    page = client.get_accounts(limit=3)
    rows, cursor = list(page.accounts), page.cursor
    while page.has_next:
        page = client.get_accounts(limit=3, cursor=cursor)
        rows += page.accounts
        cursor = page.cursor
    total = {
        row["currency"]: Decimal(row["available_balance"]["value"]) + Decimal(row["hold"]["value"])
        for row in rows
    }
    assert total["BTC"] == Decimal("0.5") and total["USD"] == Decimal("1000")
    permissions = client.get_api_key_permissions()
    assert permissions.can_view is True and permissions.can_trade is False
    account = client.get_account(rows[0]["uuid"])
    assert account.account["uuid"] == rows[0]["uuid"]


def test_the_sdk_reads_fills_products_and_the_time(sdk: Any) -> None:
    client = sdk()
    fills = client.get_fills(product_ids=["BTC-USD"], limit=2)
    assert [fill["size"] for fill in fills.fills] == ["0.5", "0.5"] and fills.cursor
    more = client.get_fills(product_ids=["BTC-USD"], cursor=fills.cursor)
    assert len(more.fills) == 1
    products = client.get_products(product_ids=["BTC-USD", "BTC-USDC"])
    assert {p["product_id"] for p in products.products} == {"BTC-USD", "BTC-USDC"}
    assert int(client.get_unix_time().epoch_millis) > 0  # public
    assert client.get_public_products().num_products >= 6


@pytest.mark.parametrize(
    ("key", "status", "words"),
    [
        ({**CB_READ, "secret": CB_TRADE["secret"]}, 401, "Unauthorized"),
        ({**CB_READ, "apiKey": "organizations/x/apiKeys/nobody"}, 401, "Unauthorized"),
        (CB_NO_VIEW, 403, "Missing Required Scopes"),
    ],
    ids=["wrong-secret", "unknown-key", "no-view-scope"],
)
def test_the_sdk_sees_coinbase_errors(
    sdk: Any, key: dict[str, str], status: int, words: str
) -> None:
    with pytest.raises(HTTPError) as raised:
        sdk(key).get_accounts()
    assert raised.value.response.status_code == status and words in str(raised.value)


def test_the_sdk_cannot_order_with_a_view_only_key(sdk: Any) -> None:
    with pytest.raises(HTTPError) as raised:
        sdk().market_order_buy("id-1", "BTC-USD", quote_size="10")
    assert "Missing Required Scopes" in str(raised.value)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def exchange(url: str) -> Iterator[Any]:
    """``ccxt.coinbase`` with the sandbox as ``urls.api.rest``; closed after the test."""
    made: list[Any] = []

    def make(key: dict[str, str]) -> Any:
        options = {"apiKey": key["apiKey"], "secret": key["secret"], "enableRateLimit": False,
                   "urls": {"api": {"rest": url}}}  # fmt: skip
        made.append(ccxt.coinbase(options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("key", [CB_READ, CB_ED], ids=["es256", "eddsa"])
def test_ccxt_loads_markets_and_reads_both_balance_apis(exchange: Any, key: dict[str, str]) -> None:
    client = exchange(key)
    client.load_markets()  # v2 currencies and rates, v3 products, the private fee summary
    assert {"BTC/USD", "BTC/USDC", "CELO/USD"} <= set(client.markets)
    v2 = client.fetch_balance()  # ccxt's default: /v2/accounts, the staking wallet summed in
    assert v2["info"]["data"] and v2["total"]["ADA"] == 100 and v2["total"]["BTC"] == 0.5
    v3 = client.fetch_balance({"v3": True})  # /api/v3/brokerage/accounts: free + used
    assert (v3["BTC"]["free"], v3["BTC"]["used"]) == (0.4, 0.1) and v3["total"]["ADA"] == 0
    assert client.fetch_time() > 0


def test_ccxt_reads_trades_the_ledger_and_transfers(exchange: Any) -> None:
    client = exchange(CB_READ)
    client.load_markets()
    trades = client.fetch_my_trades("BTC/USD")
    assert [t["info"]["size"] for t in trades] == ["0.5"] * 3
    assert trades[0]["fee"]["currency"] == "USD"
    ledger = client.fetch_ledger("ETH")
    assert sorted(entry["info"]["type"] for entry in ledger) == [
        "advanced_trade_fill", "send", "send",
    ]  # fmt: skip
    deposits = client.fetch_deposits("USD")  # cash: the bank transfers
    assert [d["info"]["amount"]["amount"] for d in deposits] == ["5000.00"]
    crypto = client.fetch_deposits_withdrawals("ETH")  # ccxt 4.5.90 counts fills as transfers
    assert {t["info"]["type"] for t in crypto} == {"send", "advanced_trade_fill"}


def test_ccxt_maps_the_401_and_the_403(exchange: Any) -> None:
    with pytest.raises(ccxt.AuthenticationError):
        exchange({**CB_READ, "secret": CB_TRADE["secret"]}).fetch_balance({"v3": True})
    with pytest.raises(ccxt.PermissionDenied):
        exchange(CB_NO_VIEW).fetch_balance({"v3": True})
