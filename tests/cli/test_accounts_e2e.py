"""`keyfolio account add`, `sync` and `show` end to end: the CLI against the real sandbox."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cli_support import EEA_KEY, IP_KEY, READ_KEY, UNSAFE_KEY, Runner, control

# A fault that never ends: retrying it only waits (the retries have their own tests).
NO_RETRIES = {"KEYFOLIO_RETRIES": "0"}

SHOW_KEYS = {
    "portfolio",
    "currency",
    "as_of",
    "total_value",
    "unpriced",
    "stale_prices",
    "holdings",
    "accounts",
    "change",
    "top_gainers",
    "top_losers",
    "refused",
}


def holdings(show: dict) -> dict[str, dict]:
    return {h["asset"]: h for h in show["holdings"]}


def test_add_imports_every_source_and_show_values_it(linked: Runner) -> None:
    show = linked("show", "--json").json()
    assert set(show) == SHOW_KEYS
    assert show["portfolio"] == "main" and show["currency"] == "USD"
    by_asset = holdings(show)
    assert by_asset["BTC"]["amount"] == "0.5" and by_asset["BTC"]["value"] == "30000"
    assert by_asset["USDT"]["amount"] == "1550"
    assert by_asset["ETH"]["value"] == "6000"
    assert by_asset["SOL"]["amount"] == "10" and by_asset["SOL"]["value"] == "1500"
    assert by_asset["XYZ"]["price"] == "2"  # via XYZ-USDC
    assert by_asset["ABC"]["price"] == "6"  # via ABC-BTC x BTC-USDT
    assert by_asset["NOMARKET"]["price"] is None and by_asset["NOMARKET"]["value"] is None
    assert show["unpriced"] == ["NOMARKET"]
    assert Decimal(show["total_value"]) == Decimal("39670")
    usdt_sources = {(s["source"], s["amount"]) for s in by_asset["USDT"]["sources"]}
    assert usdt_sources == {("trading", "1000"), ("funding", "50"), ("savings", "500")}
    assert {s["source"] for s in by_asset["SOL"]["sources"]} == {"onchain_earn"}
    (account,) = show["accounts"]
    assert account["name"] == "alice" and account["status"] == "ok"
    assert account["import_balance"] is True and account["region"] == "global"
    assert {s["source"]: s["status"] for s in account["sources"]} == {
        "trading": "ok",
        "funding": "ok",
        "savings": "ok",
        "onchain_earn": "ok",
    }


def test_add_prints_what_it_found_per_source(kf: Runner, sandbox_url: str) -> None:
    result = kf(
        "account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=READ_KEY
    )
    assert result.returncode == 0, result.stderr
    for label in ("Trading", "Funding", "Simple Earn", "On-chain Earn"):
        assert label in result.stdout
    assert "not bound to an IP" in result.stderr


def test_unsafe_key_is_refused_and_nothing_is_stored(kf: Runner, sandbox_url: str) -> None:
    result = kf(
        "account", "add", "okx", "--name", "risky", "--api-url", sandbox_url, creds=UNSAFE_KEY
    )
    assert result.returncode == 1
    assert "Error: refused" in result.stderr and "withdraw" in result.stderr
    assert "Hint:" in result.stderr and "Read" in result.stderr and "delete" in result.stderr
    assert not (kf.home / "vault.bin").exists()
    assert kf("account", "list").stdout.startswith("No accounts")


def test_wrong_region_names_the_region_flag(kf: Runner, sandbox_url: str) -> None:
    result = kf("account", "add", "okx", "--name", "eu", "--api-url", sandbox_url, creds=EEA_KEY)
    assert result.returncode == 1
    assert "--region" in result.stderr and "eea" in result.stderr
    assert not (kf.home / "vault.bin").exists()


def test_wrong_passphrase_and_wrong_secret_get_their_own_hints(
    kf: Runner, sandbox_url: str
) -> None:
    bad_pass = {**READ_KEY, "passphrase": "not-the-passphrase"}
    result = kf("account", "add", "okx", "--name", "a", "--api-url", sandbox_url, creds=bad_pass)
    assert result.returncode == 1 and "passphrase" in result.stderr.lower()
    assert "recover" in result.stderr
    bad_secret = {**READ_KEY, "secret": "not-the-secret"}
    result = kf("account", "add", "okx", "--name", "a", "--api-url", sandbox_url, creds=bad_secret)
    assert result.returncode == 1 and "Secret key" in result.stderr
    result = kf("account", "add", "okx", "--name", "a", "--api-url", sandbox_url, creds=IP_KEY)
    assert result.returncode == 1 and "whitelist" in result.stderr.lower()
    assert not (kf.home / "vault.bin").exists()


def test_whitespace_is_stripped_with_a_notice(kf: Runner, sandbox_url: str) -> None:
    padded = {**READ_KEY, "apiKey": f"  {READ_KEY['apiKey']}\n"}
    result = kf("account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=padded)
    assert result.returncode == 0, result.stderr
    assert "removed surrounding whitespace from the API key" in result.stderr


def test_duplicate_name_refused_before_any_request(linked: Runner, sandbox_url: str) -> None:
    result = linked(
        "account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=READ_KEY
    )
    assert result.returncode == 1 and "already exists" in result.stderr


def test_failed_sync_keeps_last_good_data_and_marks_it_stale(
    linked: Runner, sandbox_url: str
) -> None:
    before = linked("show", "--json").json()
    control(sandbox_url, "/__sandbox__/faults", {"path": "*", "mode": "http500", "count": 1000})
    result = linked("sync", env=NO_RETRIES)
    assert result.returncode == 1
    assert "Error:" in result.stderr and "Hint:" in result.stderr
    after = linked("show", "--json").json()
    assert after["total_value"] == before["total_value"]
    assert holdings(after)["BTC"]["amount"] == "0.5"
    assert after["accounts"][0]["status"] == "failed"
    table = linked("show").stdout
    assert "stale" in table.lower()


def test_one_failed_source_makes_the_portfolio_partial(linked: Runner, sandbox_url: str) -> None:
    control(
        sandbox_url,
        "/__sandbox__/balances",
        {"account": "alice", "source": "funding", "ccy": "ETH", "amount": "3"},
    )
    control(
        sandbox_url,
        "/__sandbox__/faults",
        {"path": "/api/v5/asset/balances", "mode": "code50001", "count": 1000},
    )
    result = linked("sync", env=NO_RETRIES)
    assert result.returncode == 0, result.stderr
    show = linked("show", "--json").json()
    account = show["accounts"][0]
    assert account["status"] == "partial"
    funding = next(s for s in account["sources"] if s["source"] == "funding")
    assert funding["status"] == "failed" and funding["hint"]
    assert holdings(show)["ETH"]["amount"] == "2"  # last good value, not 3 and not 0
    assert "PARTIAL" in linked("show").stdout


def test_trade_shows_up_after_sync(linked: Runner, sandbox_url: str) -> None:
    control(
        sandbox_url,
        "/__sandbox__/trade",
        {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
    )
    assert linked("sync").returncode == 0
    by_asset = holdings(linked("show", "--json").json())
    assert by_asset["BTC"]["amount"] == "0.50999"  # 0.01 bought, 0.1 % fee paid in BTC
    assert by_asset["USDT"]["amount"] == "950"  # 600 USDT spent from trading


def test_import_balance_off_leaves_account_out_of_totals(linked: Runner) -> None:
    assert linked("account", "import-balance", "alice", "off").returncode == 0
    show = linked("show", "--json").json()
    assert show["holdings"] == [] and show["total_value"] == "0"
    assert show["accounts"][0]["import_balance"] is False
    assert linked("account", "import-balance", "alice", "on").returncode == 0
    assert linked("show", "--json").json()["holdings"]


def test_portfolios_and_moving_accounts(linked: Runner) -> None:
    assert linked("portfolio", "add", "long-term").returncode == 0
    refused = linked("portfolio", "remove", "main")
    assert refused.returncode != 0 and "Hint:" in refused.stderr
    assert linked("account", "move", "alice", "--portfolio", "long-term").returncode == 0
    refused = linked("portfolio", "remove", "long-term")
    assert refused.returncode != 0 and "account move" in refused.stderr
    assert linked("show", "--json", "--portfolio", "long-term").json()["holdings"]
    assert linked("show", "--json").json()["holdings"] == []
    assert linked("portfolio", "rename", "long-term", "hodl").returncode == 0
    assert "hodl" in linked("portfolio", "list").stdout


def test_remove_wipes_the_secret(linked: Runner) -> None:
    result = linked("account", "remove", "alice")
    assert result.returncode == 0 and "API Management" in result.stdout
    from cli_support import PASSWORD

    from keyfolio.vault import Vault

    vault = Vault.open(linked.home / "vault.bin", PASSWORD)
    assert vault.names() == []
    assert linked("show", "--json").json()["holdings"] == []


def test_rotate_validates_before_swapping(linked: Runner, sandbox_url: str) -> None:
    result = linked("account", "rotate", "alice", creds=UNSAFE_KEY)
    assert result.returncode == 1 and "refused" in result.stderr
    from cli_support import PASSWORD

    from keyfolio.vault import Vault

    assert (
        Vault.open(linked.home / "vault.bin", PASSWORD).get("alice").api_key == READ_KEY["apiKey"]
    )
    assert linked("sync").returncode == 0


def test_wrong_vault_password(linked: Runner) -> None:
    result = linked("sync", password="not-the-password")
    assert result.returncode == 2
    assert "Error: could not unlock the vault" in result.stderr and "Hint:" in result.stderr
    assert "read from KEYFOLIO_PASSWORD" in result.stderr  # the runner passes it that way


def test_account_list_shows_sources_and_flag(linked: Runner) -> None:
    out = linked("account", "list").stdout
    assert "alice" in out and "ok" in out and "on" in out


def test_sync_json_and_request_count(linked: Runner, sandbox_url: str) -> None:
    control(sandbox_url, "/__sandbox__/reset-log", {})
    result = linked("sync", "--json", "--no-history")
    assert result.returncode == 0, result.stderr
    assert result.json()["accounts"][0]["status"] == "ok"
    log = control(sandbox_url, "/__sandbox__/requests")
    signed = [entry for entry in log if entry["key"]]
    assert len(signed) == 4, signed  # markets are cached on disk from the first use
    assert {entry["path"].split("?")[0] for entry in signed} == {
        "/api/v5/account/balance",
        "/api/v5/asset/balances",
        "/api/v5/finance/savings/balance",
        "/api/v5/finance/staking-defi/orders-active",
    }
    tickers = [entry for entry in log if entry["path"].startswith("/api/v5/market/tickers")]
    assert len(tickers) == 1


def test_sync_reads_history_only_when_balances_moved_one_request_per_stream(
    synced: Runner, sandbox_url: str
) -> None:
    from keyfolio.exchanges.okx_archive import ARCHIVES
    from keyfolio.exchanges.okx_history import INST_TYPES

    balances = {
        "/api/v5/account/balance", "/api/v5/asset/balances", "/api/v5/finance/savings/balance",
        "/api/v5/finance/staking-defi/orders-active",
    }  # fmt: skip
    archives = {"/api/v5/" + archive.path for archive in ARCHIVES}
    linked = synced  # the first import happened (and succeeded) in the synced template
    control(sandbox_url, "/__sandbox__/reset-log", {})
    unchanged = linked("sync", "--json")
    assert unchanged.returncode == 0, unchanged.stderr
    # the balances are as at the last import: only the archives OKX is preparing are asked about
    for report in unchanged.json()["history"]:
        assert set(report["unfinished"]) <= {"archive:bills", "archive:fills"}, report
    log = control(sandbox_url, "/__sandbox__/requests")
    signed = [entry["path"].split("?")[0] for entry in log if entry["key"]]
    assert sorted(p for p in signed if p in balances) == sorted(balances)
    assert set(signed) <= balances | archives, signed

    control(sandbox_url, "/__sandbox__/balances",
            {"account": "alice", "source": "funding", "asset": "USDT", "amount": "51"})  # fmt: skip
    control(sandbox_url, "/__sandbox__/reset-log", {})
    moved = linked("sync", "--json")
    assert moved.returncode == 0, moved.stderr
    (history,) = moved.json()["history"]
    assert history["account"] == "alice" and history["errors"] == []
    assert all(count == 0 for count in history["new"].values())  # the sandbox has no record of it
    okx_streams = len(INST_TYPES) + 4  # fills per type, deposits, withdrawals, two ledgers
    log = control(sandbox_url, "/__sandbox__/requests")
    signed = [entry["path"] for entry in log if entry["key"]]
    read = [path for path in signed if path.split("?")[0] not in archives]
    assert len(read) == len(set(read))  # no request repeated
    assert len(read) == 4 + okx_streams  # 4 balance sources + one page per stream


def test_show_reads_only_the_database(linked: Runner, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from keyfolio.cli.main import run\n"
        "try:\n"
        "    run(['show', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ccxt', 'aiohttp', 'alembic'}))\n"
    )
    env = {"KEYFOLIO_HOME": str(linked.home), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr
