"""`keyfolio demo` (what `make demo` runs): the whole story, offline, exit 0."""

from __future__ import annotations

from cli_support import Runner


def test_demo_tells_the_whole_story_and_never_touches_existing_data(linked: Runner) -> None:
    # KEYFOLIO_HOME (set by the runner) names a home with data: the demo ignores it and runs
    # in a temporary directory (one demo run for both stories: it is the slowest command)
    result = linked("demo", password=None)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "Error: refused" in out and "withdraw" in out  # 1. the unsafe key
    assert "Linked demo" in out  # 2. the read-only key
    for label in ("Trading", "Funding", "Simple Earn", "On-chain Earn"):
        assert label in out
    for venue in ("binance", "bybit", "coinbase", "kraken"):  # 3. the other four venues
        assert f"Linked demo-{venue} ({venue}" in out and f"demo-{venue}: ok" in out
    for label in ("Simple Earn Locked", "Unified Trading", "Staked", "Earn (flexible)"):
        assert label in out  # each venue's sources, in its own words
    assert "unpriced" in out.lower()  # 4. an asset without a market is listed, not dropped
    assert "What changed" in out and "BTC: +" in out  # 5. the trade shows up after sync
    assert "Value change" in out and "from 24h open prices (Kraken's" in out  # 6. 24h change
    assert "Top gainers: SOL +5.22% (24h)" in out and "Top losers: LDO -3.04% (24h)" in out
    assert "P/L of portfolio main (FIFO, USD)" in out  # 7. the P/L of the demo trades
    assert "Total realized: +592.66 USD" in out and "ZZZ" in out.split("Incomplete P/L")[1]
    assert "keyfolio account add okx --name main" in out  # how to link a real account
    assert [a["name"] for a in linked("show", "--json").json()["accounts"]] == ["alice"]
