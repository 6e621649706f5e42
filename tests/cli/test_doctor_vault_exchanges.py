"""`keyfolio doctor`, `vault change-password` and `exchanges`."""

from __future__ import annotations

from cli_support import PASSWORD, Runner


def test_doctor_reports_each_check(linked: Runner) -> None:
    result = linked("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for check in ("reachability", "clock", "key", "permissions", "ip binding"):
        assert check in out
    assert "read-only" in out
    assert "not bound to an IP" in out


def test_doctor_unknown_account(linked: Runner) -> None:
    result = linked("doctor", "--account", "nobody")
    assert result.returncode == 1
    assert "Error:" in result.stderr and "Hint:" in result.stderr


def test_vault_change_password(linked: Runner) -> None:
    result = linked("vault", "change-password", env={"KEYFOLIO_NEW_PASSWORD": "new-pw-2b7f"})
    assert result.returncode == 0, result.stderr
    assert linked("sync", password=PASSWORD).returncode == 2
    assert linked("sync", password="new-pw-2b7f").returncode == 0


def test_exchanges_lists_the_first_class_venues_first_with_their_credentials(kf: Runner) -> None:
    result = kf("exchanges")
    assert result.returncode == 0
    table, generic = result.stdout.split("Generic (")
    for venue in ("okx", "binance", "bybit", "coinbase", "kraken"):
        assert f"│ {venue} " in table
    assert "Passphrase" in table and "bitstamp" in generic and "kraken," not in generic
    listed = kf("exchanges", "--json").json()
    first = [row for row in listed if row["first_class"]]
    assert [row["id"] for row in first] == [
        "okx", "myokx", "okxus", "binance", "bybit", "coinbase", "kraken",
    ]  # fmt: skip
    assert first[0]["credentials"] == ["API key", "Secret key", "Passphrase"]
    assert {row["live"] for row in first} == {"WebSocket", "polling"}  # Coinbase polls
    generic = [row for row in listed if not row["first_class"]]
    assert generic and all(not row["permission_check"] for row in generic)


def test_unknown_exchange_is_refused_with_hint(kf: Runner) -> None:
    result = kf(
        "account",
        "add",
        "notanexchange",
        "--name",
        "x",
        creds={"apiKey": "a", "secret": "b", "passphrase": "c"},
    )
    assert result.returncode != 0
    assert "Error:" in result.stderr and "keyfolio exchanges" in result.stderr


def test_missing_credentials_without_terminal(kf: Runner, sandbox_url: str) -> None:
    result = kf("account", "add", "okx", "--name", "x", "--api-url", sandbox_url)
    assert result.returncode == 2
    assert "KEYFOLIO_API_KEY" in result.stderr
