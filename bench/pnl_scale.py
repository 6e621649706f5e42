"""P/L scale: FIFO P/L over 1,000,000 synthetic fills across 50 assets (goal: <= 5 s).

Builds a deterministic stream of spot fills (buys with the fee in the base asset, sells with
the fee in USDT, like OKX), then times ``compute_pnl`` over the first 100,000 and over all
1,000,000 and prints both and their ratio (10.0 would be perfectly linear). Building the fills
is not timed. ``--method average`` times average cost instead; ``--trades N`` changes the size.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyfolio.analytics.pnl import CostMethod, compute_pnl
from keyfolio.domain.history import Trade, TradeSide

ASSETS = 50
SMALL = 100_000
LARGE = 1_000_000


def synthetic_trades(count: int, *, seed: int = 5) -> list[Trade]:
    """``count`` fills over 50 assets, in time order; sells never exceed what was bought."""
    rng = random.Random(seed)  # synthetic data, not security
    assets = [f"A{i:02d}" for i in range(ASSETS)]
    held = dict.fromkeys(assets, 0)
    amounts = [Decimal(n) / 100 for n in range(1, 501)]  # 0.01 .. 5.00, shared objects
    prices = {a: [Decimal(rng.randint(100, 100_000)) / 100 for _ in range(64)] for a in assets}
    fee_rate = Decimal("0.001")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    trades = []
    for n in range(count):
        asset = assets[rng.randrange(ASSETS)]
        index = rng.randrange(len(amounts))
        amount = amounts[index]
        price = prices[asset][n % 64]
        sell = held[asset] >= index + 1 and rng.random() < 0.45
        if sell:
            held[asset] -= index + 1
            side, fee, fee_asset = TradeSide.SELL, amount * price * fee_rate, "USDT"
        else:
            held[asset] += index + 1
            side, fee, fee_asset = TradeSide.BUY, amount * fee_rate, asset
        trades.append(
            Trade(
                account="bench",
                trade_id=str(n),
                at=start + timedelta(seconds=n),
                base=asset,
                quote="USDT",
                side=side,
                amount=amount,
                price=price,
                fee=fee,
                fee_asset=fee_asset,
            )
        )
    return trades


def time_pnl(trades: list[Trade], method: CostMethod) -> float:
    prices = {trade.base: trade.price for trade in trades[-500:]}
    start = time.perf_counter()
    report = compute_pnl(
        trades, [], holdings=None, prices=prices, method=method, usd_rate=lambda _a, _t: None
    )
    elapsed = time.perf_counter() - start
    assert len(report.assets) == ASSETS
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=[m.value for m in CostMethod], default="fifo")
    parser.add_argument("--trades", type=int, default=LARGE)
    args = parser.parse_args()
    method = CostMethod(args.method)
    build = time.perf_counter()
    trades = synthetic_trades(args.trades)
    print(f"built {len(trades):,} fills in {time.perf_counter() - build:.1f} s (not timed)")
    small = time_pnl(trades[:SMALL], method)
    large = time_pnl(trades, method)
    print(f"{method.value} P/L over {SMALL:>9,} fills: {small:6.2f} s")
    print(f"{method.value} P/L over {len(trades):>9,} fills: {large:6.2f} s  (goal <= 5 s)")
    print(f"ratio: {large / small:.1f}x for {len(trades) / SMALL:.0f}x the fills")


if __name__ == "__main__":
    main()
