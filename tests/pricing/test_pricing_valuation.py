"""price_assets and value_of: every rule, precedence, unpriced assets. Decimal only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

import keyfolio.pricing
from keyfolio.domain.records import Price
from keyfolio.pricing import (
    STABLECOINS,
    Ticker,
    price_across,
    price_assets,
    route_of,
    value_of,
)

AS_OF = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TS = datetime(2025, 1, 2, 3, 4, 0, tzinfo=UTC)
D = Decimal


def t(symbol: str, last: str, open24h: str | None = None, ts: datetime = TS) -> Ticker:
    return Ticker(
        symbol=symbol, last=D(last), open24h=None if open24h is None else D(open24h), ts=ts
    )


def market(*tickers: Ticker) -> dict[str, Ticker]:
    return {ticker.symbol: ticker for ticker in tickers}


BTC = t("BTC-USDT", "60000", "58000")

# (case id, tickers, asset, expected usd, expected open24h_usd, expected source)
CASES = [
    ("usdt-par", market(t("USDT-USDC", "0.999")), "USDT", "1", "1", "par"),
    ("usdc-par", market(BTC), "USDC", "1", "1", "par"),
    ("usd", market(), "USD", "1", "1", "usd"),
    ("usdt-usd", market(t("USDT-USD", "0.9991", "1")), "USDT", "0.9991", "1", "okx:USDT-USD"),
    ("usdc-usdt", market(t("USDC-USDT", "1.0002", "1")), "USDC", "1.0002", "1", "okx:USDC-USDT"),
    (
        "usdc-usdt-usd",
        market(t("USDC-USDT", "0.87", "1"), t("USDT-USD", "0.999", "1.001")),
        "USDC",
        "0.86913",
        "1.001",
        "okx:USDC-USDT*USDT-USD",
    ),
    (
        "usdc-usd-wins-over-usdc-usdt",
        market(t("USDC-USDT", "0.87"), t("USDC-USD", "0.88")),
        "USDC",
        "0.88",
        None,
        "okx:USDC-USD",
    ),
    (
        "dai-usdt-comes-before-dai-usdc",
        market(t("DAI-USDC", "0.95"), t("DAI-USDT", "0.97"), t("USDC-USD", "0.99")),
        "DAI",
        "0.97",
        None,
        "okx:DAI-USDT",
    ),
    (
        "dai-usdc-usd",
        market(t("DAI-USDC", "0.95", "1"), t("USDC-USD", "0.99", "1")),
        "DAI",
        "0.9405",
        "1",
        "okx:DAI-USDC*USDC-USD",
    ),
    (
        "btc-quoted-in-a-depegged-usdt",
        market(BTC, t("USDT-USD", "0.5", "1")),
        "BTC",
        "30000",
        "58000",
        "okx:BTC-USDT*USDT-USD",
    ),
    (
        "btc-route-through-usdt-usd",
        market(BTC, t("ABC-BTC", "0.00002", "0.00003"), t("USDT-USD", "0.5", "1")),
        "ABC",
        "0.6",
        "1.74",
        "okx:ABC-BTC*BTC-USDT*USDT-USD",
    ),
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
    ("market-wins-over-par", market(t("USDC-USDT", "0.98")), "USDC", "0.98", None, "okx:USDC-USDT"),
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
        as_of=AS_OF if source in ("par", "usd") else TS,
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
    assert {"USDT", "USDC", "DAI"} <= STABLECOINS and "USD" not in STABLECOINS


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


def test_a_chain_can_cross_venues_and_is_as_old_as_its_oldest_leg() -> None:
    old = datetime(2025, 1, 2, 2, 0, tzinfo=UTC)
    venues = {
        "binance": market(t("BTC-USDT", "60000", "58000")),
        "kraken": market(t("USDT-USD", "0.99", "1", ts=old), t("BTC-USD", "59000")),
    }
    prices = price_across(["BTC", "USDT"], venues, as_of=AS_OF, holders={"BTC": ["binance"]})
    btc, usdt = prices["BTC"], prices["USDT"]
    assert btc is not None and usdt is not None
    assert (btc.usd, btc.source, btc.as_of) == (
        D("59400"),
        "binance:BTC-USDT*kraken:USDT-USD",
        old,
    )
    assert (usdt.usd, usdt.source, usdt.as_of) == (D("0.99"), "kraken:USDT-USD", old)


def test_a_stablecoin_is_priced_on_the_venue_that_holds_it_first() -> None:
    venues = {"okx": market(t("USDC-USDT", "0.9")), "kraken": market(t("USDC-USD", "0.95"))}
    held = price_across(["USDC"], venues, as_of=AS_OF, holders={"USDC": ["okx"]})["USDC"]
    assert held is not None and held.source == "kraken:USDC-USD"  # a USD market comes first
    venues = {"okx": market(t("USDC-USDT", "0.9")), "binance": market(t("USDC-USDT", "0.8"))}
    held = price_across(["USDC"], venues, as_of=AS_OF, holders={"USDC": ["binance"]})["USDC"]
    assert held is not None and (held.usd, held.source) == (D("0.8"), "binance:USDC-USDT")


@pytest.mark.parametrize(
    ("source", "legs"),
    [
        ("par", ()),
        ("usd", ()),
        ("okx:BTC-USDT", (("okx", "BTC-USDT"),)),
        ("okx:ABC-BTC*BTC-USDT", (("okx", "ABC-BTC"), ("okx", "BTC-USDT"))),
        (
            "binance:BTC-USDT*kraken:USDT-USD",
            (("binance", "BTC-USDT"), ("kraken", "USDT-USD")),
        ),
    ],
)
def test_route_of_names_every_leg(source: str, legs: tuple[tuple[str, str], ...]) -> None:
    assert route_of(source) == legs
