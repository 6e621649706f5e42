"""`keyfolio pnl` end to end: manual trades, sandbox prices, JSON and the table."""

from __future__ import annotations

from cli_support import PASSWORD, Runner

from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.manual import add_holding, add_trade


def _manual_trades(kf: Runner) -> None:
    """A cold wallet's holding and trades, in-process (`holding add` and `trade add` have
    their own end-to-end tests in test_cli_imports.py)."""
    app = App(settings=Settings(home=kf.home), password=lambda **_: PASSWORD)
    try:
        add_holding(app, asset="BTC", amount="0.5", account="cold")
        for side, amount, price, fee, at in (
            ("buy", "1", "40000", "20", "2025-01-02T10:00:00Z"),
            ("sell", "0.5", "50000", "25", "2025-01-03T10:00:00Z"),
        ):
            add_trade(app, account="cold", pair="BTC-USDT", side=side, amount=amount,
                      price=price, fee=fee, at=at)  # fmt: skip
    finally:
        app.close()


def test_pnl_json_and_table(synced: Runner) -> None:
    kf = synced  # alice's balances and (empty) history imported by `keyfolio sync`
    _manual_trades(kf)
    result = kf("pnl", "--json")
    assert result.returncode == 0, result.stderr
    data = result.json()
    assert (data["method"], data["currency"]) == ("fifo", "USD")
    btc = next(row for row in data["assets"] if row["asset"] == "BTC")
    # cold: 1 @ 40000 + 20 fee, sold 0.5 @ 50000 - 25 fee: realized 24975 - 20010 = 4965.
    # Held: 0.5 (cold) + 0.5 (alice, bought before any imported history: unknown basis).
    # Unrealized on the known 0.5 at 60000: 30000 - 20010 = 9990.
    assert {k: btc[k] for k in ("amount", "cost_basis", "realized", "unrealized", "fees")} == {
        "amount": "1",
        "cost_basis": "20010",
        "realized": "4965",
        "unrealized": "9990",
        "fees": "45",
    }
    assert btc["unknown_basis_amount"] == "0.5"
    assert data["total_realized"] == "4965"
    assert all(row["asset"] != "USDT" for row in data["assets"])
    assert any(f["kind"] == "held_before_history" and f["asset"] == "BTC" for f in data["flags"])

    table = kf("pnl", "--method", "average")
    assert table.returncode == 0, table.stderr
    assert "P/L of portfolio main (average cost, USD)" in table.stdout
    assert "4,965.00" in table.stdout and "+9,990.00" in table.stdout
    assert "not counted as zero cost" in table.stdout
    assert "BTC: 0.5 held but not explained by the imported history" in table.stdout


def test_pnl_refuses_an_unknown_method_and_handles_empty(kf: Runner) -> None:
    bad = kf("pnl", "--method", "lifo")
    assert bad.returncode == 2
    assert "Unknown cost method 'lifo'" in bad.stderr and "--method average" in bad.stderr
    empty = kf("pnl")
    assert empty.returncode == 0, empty.stderr
    assert "No trades, transfers or holdings" in empty.stdout
    assert kf("pnl", "--json").json()["assets"] == []
