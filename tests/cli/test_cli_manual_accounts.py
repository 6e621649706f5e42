"""Manual accounts (holdings entered by hand) next to linked ones: never contacted, but counted."""

from __future__ import annotations

from decimal import Decimal

from cli_support import PASSWORD, Runner

from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.live import LiveEngine
from keyfolio.services.manual import add_holding
from keyfolio.services.summary import portfolio_summary


def test_holdings_entered_by_hand_are_in_the_value_series(linked: Runner) -> None:
    assert linked("holding", "add", "BTC", "0.25", "--account", "cold").returncode == 0
    series = linked("history", "--account", "cold", "--window", "24h", "--json").json()
    assert [point["value"] for point in series["points"]][-1] == "15000"  # 0.25 x 60000
    assert linked("holding", "remove", "BTC", "--account", "cold").returncode == 0
    after = linked("history", "--account", "cold", "--window", "24h", "--json").json()
    assert after["points"][-1]["value"] == "0"  # removed: a true zero, not a gap


def test_sync_doctor_and_rotate_leave_manual_accounts_alone(linked: Runner) -> None:
    assert linked("holding", "add", "ETH", "1", "--account", "cold").returncode == 0
    assert linked("sync").returncode == 0  # every linked account; cold is not contacted
    for command in (("sync", "--account", "cold"), ("doctor", "--account", "cold")):
        result = linked(*command)
        assert result.returncode == 2, command
        assert "Error: 'cold' is a manual account" in result.stderr
        assert "Hint: Change its holdings with `keyfolio holding add|remove" in result.stderr
    doctor = linked("doctor")
    assert "cold" not in doctor.stdout and "alice" in doctor.stdout
    rotate = linked("account", "rotate", "cold")
    assert rotate.returncode == 2 and "nothing to rotate" in rotate.stderr


async def test_the_live_engine_skips_manual_accounts(linked: Runner) -> None:
    # the engine's behaviour, in-process: the CLI commands add nothing here
    app = App(settings=Settings(home=linked.home), password=lambda **_: PASSWORD)
    try:
        add_holding(app, asset="ETH", amount="1", account="cold")
        async with LiveEngine(app, poll_seconds=3600) as engine:
            await engine.wait_ready()
            assert set(engine.statuses) == {"alice"}
        total = portfolio_summary(app)["total_value"]
    finally:
        app.close()
    assert Decimal(total) > Decimal(39670)
