"""price_assets and value_of: every rule, precedence, unpriced assets. Decimal only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

import keyfolio.pricing
from keyfolio.domain.records import Price
from keyfolio.pricing import PAR_ASSETS, Ticker, price_across, price_assets, value_of

AS_OF = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TS = datetime(2025, 1, 2, 3, 4, 0, tzinfo=UTC)
D = Decimal


def t(symbol: str, last: str, open24h: str | None = None) -> Ticker:
    return Ticker(
        symbol=symbol, last=D(last), open24h=None if open24h is None else D(open24h), ts=TS
    )


def market(*tickers: Ticker) -> dict[str, Ticker]:
    return {ticker.symbol: ticker for ticker in tickers}


BTC = t("BTC-USDT", "60000", "58000")

# (case id, tickers, asset, expected usd, expected open24h_usd, expected source)
CASES = [
    ("usdt-par", market(t("USDT-USDC", "0.999")), "USDT", "1", "1", "par"),
    ("usdc-par", market(t("USDC-USDT", "1.0002", "1")), "USDC", "1", "1", "par"),
    ("usd-par", market(), "USD", "1", "1", "par"),
    ("usdt-route", market(BTC), "BTC", "60000", "58000", "okx:BTC-USDT"),
    ("usdt-no-open", market(t("SOL-USDT", "150.25")), "SOL", "150.25", None, "okx:SOL-USDT"),
    ("usdt-zero-open", market(t("SOL-USDT", "150", "0")), "SOL", "150", None, "okx:SOL-USDT"),
    ("usdc-route", market(t("XYZ-USDC", "0.5", "0.4")), "XYZ", "0.5", "0.4", "okx:XYZ-USDC"),
    (
        "btc-route",
        market(BTC, t("ABC-BTC", "0.00002", "0.00003")),
        "ABC",
        "1.20000",
        "1.74000",
        "okx:ABC-BTC*BTC-USDT",
    ),
    (
        "btc-route-no-open-on-one-leg",
        market(t("BTC-USDT", "60000"), t("ABC-BTC", "0.00002", "0.00003")),
        "ABC",
        "1.20000",
        None,
        "okx:ABC-BTC*BTC-USDT",
    ),
    (
        "usdt-wins-over-usdc",
        market(t("ETH-USDC", "2999", "2900"), t("ETH-USDT", "3000", "2950")),
        "ETH",
        "3000",
        "2950",
        "okx:ETH-USDT",
    ),
    (
        "usdc-wins-over-btc",
        market(BTC, t("ETH-BTC", "0.05", "0.05"), t("ETH-USDC", "2999", "2900")),
        "ETH",
        "2999",
        "2900",
        "okx:ETH-USDC",
    ),
    (
        "usdt-wins-over-btc",
        market(BTC, t("ETH-BTC", "0.05"), t("ETH-USDT", "3000")),
        "ETH",
        "3000",
        None,
        "okx:ETH-USDT",
    ),
    (
        "zero-usdt-falls-to-usdc",
        market(t("ETH-USDT", "0", "3000"), t("ETH-USDC", "2999")),
        "ETH",
        "2999",
        None,
        "okx:ETH-USDC",
    ),
    (
        "zero-usdc-falls-to-btc",
        market(BTC, t("ETH-USDC", "0"), t("ETH-BTC", "0.05", "0.05")),
        "ETH",
        "3000.00",
        "2900.00",
        "okx:ETH-BTC*BTC-USDT",
    ),
    ("par-wins-over-market", market(t("USDC-USDT", "0.98")), "USDC", "1", "1", "par"),
    ("lower-case-asset", market(BTC), "btc", "60000", "58000", "okx:BTC-USDT"),
]


@pytest.mark.parametrize(
    ("tickers", "asset", "usd", "open24h_usd", "source"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_price_rules(
    tickers: dict[str, Ticker], asset: str, usd: str, open24h_usd: str | None, source: str
) -> None:
    price = price_assets([asset], tickers, as_of=AS_OF)[asset]
    assert price == Price(
        asset=asset,
        usd=D(usd),
        source=source,
        as_of=AS_OF,
        open24h_usd=None if open24h_usd is None else D(open24h_usd),
    )
    assert type(price.usd) is Decimal


UNPRICED = [
    ("no-market", market(BTC), "ZZZ"),
    ("empty-market", market(), "BTC"),
    ("zero-last", market(t("DEAD-USDT", "0", "1")), "DEAD"),
    ("zero-last-everywhere", market(BTC, t("D-USDT", "0"), t("D-USDC", "0"), t("D-BTC", "0")), "D"),
    ("btc-leg-missing", market(t("ABC-BTC", "0.00002")), "ABC"),
    ("btc-leg-zero", market(t("BTC-USDT", "0"), t("ABC-BTC", "0.00002")), "ABC"),
    ("other-quote-only", market(t("ABC-EUR", "3"), t("ABC-ETH", "0.1")), "ABC"),
    ("empty-code", market(BTC), ""),
]


@pytest.mark.parametrize(
    ("tickers", "asset"), [pytest.param(*case[1:], id=case[0]) for case in UNPRICED]
)
def test_unpriced_assets_are_kept_as_none(tickers: dict[str, Ticker], asset: str) -> None:
    result = price_assets([asset], tickers, as_of=AS_OF)
    assert result == {asset: None}


def test_every_asset_kept_in_order_once() -> None:
    tickers = market(BTC, t("ETH-USDT", "3000"))
    result = price_assets(["ZZZ", "BTC", "USDT", "ZZZ", "ETH", "PEPE2"], tickers, as_of=AS_OF)
    assert list(result) == ["ZZZ", "BTC", "USDT", "ETH", "PEPE2"]
    assert result["ZZZ"] is None and result["PEPE2"] is None
    assert all(result[a] is not None for a in ("BTC", "USDT", "ETH"))


def test_price_assets_accepts_any_iterable() -> None:
    result = price_assets((a for a in ["USD", "BTC"]), market(BTC), as_of=AS_OF)
    assert set(result) == {"USD", "BTC"}


def test_btc_route_product_is_exact() -> None:
    tickers = market(
        t("BTC-USDT", "98765.4321098765432109876"),
        t("TINY-BTC", "0.000000012345678901234567890"),
    )
    price = price_assets(["TINY"], tickers, as_of=AS_OF)["TINY"]
    assert price is not None
    assert price.usd == D("0.0012193263113702179522496563935941227861481640")


@pytest.mark.parametrize(
    ("amount", "usd", "expected"),
    [
        ("0.5", "60000", "30000.0"),
        ("0", "60000", "0"),
        ("1234.5678", "1", "1234.5678"),
        ("0.00000001", "0.000012345678", "1.2345678E-13"),
    ],
)
def test_value_of(amount: str, usd: str, expected: str) -> None:
    price = Price(asset="X", usd=D(usd), source="par", as_of=AS_OF)
    value = value_of(D(amount), price)
    assert value == D(expected)
    assert type(value) is Decimal


def test_value_of_big_product_keeps_every_digit() -> None:
    price = Price(asset="X", usd=D("98765.4321098765432109876"), source="par", as_of=AS_OF)
    value = value_of(D("123456789.123456789"), price)
    assert value == D("12193263124676.1163237311318260646786148164")
    assert len(value.as_tuple().digits) > 28  # more than the default context would keep


def test_value_of_unpriced_is_none() -> None:
    assert value_of(D("10"), None) is None


def test_package_exports() -> None:
    assert keyfolio.pricing.__all__ == sorted(keyfolio.pricing.__all__)
    for name in keyfolio.pricing.__all__:
        assert hasattr(keyfolio.pricing, name)
    assert {"USDT", "USDC", "USD"} == PAR_ASSETS


def test_an_asset_is_priced_on_the_venue_that_holds_it_first() -> None:
    okx = market(t("BTC-USDT", "60000"))
    binance = market(t("BTC-USDT", "60100"))
    venues = {"okx": okx, "binance": binance}
    held_on_binance = price_across(["BTC"], venues, as_of=AS_OF, holders={"BTC": ["binance"]})
    assert held_on_binance["BTC"] is not None
    assert (held_on_binance["BTC"].usd, held_on_binance["BTC"].source) == (
        D("60100"),
        "binance:BTC-USDT",
    )
    nobody = price_across(["BTC"], venues, as_of=AS_OF)
    assert nobody["BTC"] is not None and nobody["BTC"].source == "okx:BTC-USDT"


def test_another_linked_venue_prices_what_the_holder_cannot() -> None:
    venues = {"binance": market(t("BTC-USDT", "60000")), "okx": market(t("OKB-USDT", "50"))}
    prices = price_across(["OKB"], venues, as_of=AS_OF, holders={"OKB": ["binance"]})
    assert prices["OKB"] is not None and prices["OKB"].source == "okx:OKB-USDT"


def test_usd_quoted_markets_and_btc_via_usd() -> None:
    venue = market(t("BTC-USD", "60000", "59000"), t("ADA-USD", "0.5"), t("XTZ-BTC", "0.00001"))
    prices = price_across(["ADA", "XTZ"], {"kraken": venue}, as_of=AS_OF)
    assert prices["ADA"] is not None and prices["ADA"].source == "kraken:ADA-USD"
    xtz = prices["XTZ"]
    assert xtz is not None and xtz.usd == D("0.60000") and xtz.source == "kraken:XTZ-BTC*BTC-USD"
