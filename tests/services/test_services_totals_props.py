"""Property: the `show` total equals the last point of the value series, to the last digit.

Both sum ``amount x price`` over every holding, the view per asset and the value series per snapshot
set; in the one money context both sums are exact, so they agree whatever the holdings and
prices within the bounds (before, the view summed in Python's default 28 digits).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.money import MAX_ABS, MAX_PLACES, multiply
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.values import series_to_json, value_series
from keyfolio.services.view import portfolio_view, view_to_json

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ASSETS = ["BTC", "ETH", "SHIB", "XAU", "DUST"]

bounded = st.decimals(
    min_value=-MAX_ABS, max_value=MAX_ABS, places=MAX_PLACES, allow_nan=False
).filter(lambda d: d != 0)
positive = st.decimals(min_value=Decimal("1e-18"), max_value=MAX_ABS, places=MAX_PLACES)
# An exchange price, or a cross rate (ASSET-BTC x BTC-USDT: a product of two), or none.
price = st.one_of(
    st.none(), positive, st.tuples(positive, positive).map(lambda pair: multiply(*pair))
)
where = st.tuples(
    st.sampled_from(["a", "b", "c"]), st.sampled_from(list(Source)), st.sampled_from(ASSETS)
)
holdings = st.dictionaries(where, bounded, min_size=1, max_size=12)

_portfolios = itertools.count()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home: Path = tmp_path_factory.mktemp("totals")
    app = App(settings=Settings(home=home), password=lambda **_: "unused")
    yield app
    app.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(holdings, st.fixed_dictionaries(dict.fromkeys(ASSETS, price)))
def test_show_total_equals_the_last_history_point(
    app: App,
    holdings: dict[tuple[str, Source, str], Decimal],
    prices: dict[str, Decimal | None],
) -> None:
    number = next(_portfolios)  # a fresh portfolio and asset codes per example, one database
    portfolio = f"p{number}"
    holdings = {(acct, src, f"{a}{number}"): v for (acct, src, a), v in holdings.items()}
    prices = {f"{a}{number}": usd for a, usd in prices.items()}
    at = T0
    by_account: dict[str, dict[Source, dict[str, Decimal]]] = {}
    for (account, source, asset), amount in holdings.items():
        by_account.setdefault(account, {}).setdefault(source, {})[asset] = amount
    results = {
        account: [SourceResult(source, SourceStatus.OK, held) for source, held in sources.items()]
        for account, sources in by_account.items()
    }
    with app.db().session() as store:
        store.add_portfolio(name=portfolio)
        store.upsert_prices(
            prices=[Price(a, usd, "test", at) for a, usd in prices.items() if usd is not None]
        )
        for account, account_results in results.items():
            name = f"{portfolio}-{account}"
            store.add_account(spec=AccountSpec(exchange="okx", name=name, portfolio=portfolio))
            store.record_sync(name=name, results=account_results, synced_at=at)
    for account, account_results in results.items():
        record_snapshots(app, account=f"{portfolio}-{account}", results=account_results, at=at)

    view = portfolio_view(app, portfolio=portfolio)
    series = value_series(app, portfolio=portfolio, window="1h", now=at + timedelta(seconds=1))
    assert series.points[-1].value == view.total_value
    shown = view_to_json(view)["total_value"]
    assert series_to_json(series)["points"][-1]["value"] == shown
    exact = sum(
        (Fraction(amount) * Fraction(prices[a] or 0) for (_, _, a), amount in holdings.items()),
        Fraction(0),
    )
    assert Fraction(view.total_value) == exact
    assert view.refused == [] and series.refused == []
