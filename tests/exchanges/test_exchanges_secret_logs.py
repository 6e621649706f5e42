"""Secrets never reach a log record, an error or a result, even at DEBUG."""

from __future__ import annotations

import logging

import pytest
from exchanges_support import ALICE_KEY, alice_credentials, control, spec_for

from keyfolio.config import Settings
from keyfolio.errors import WrongPassphraseError
from keyfolio.exchanges.pool import ConnectorPool


async def test_debug_logs_mask_credentials(
    settings: Settings, alice_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await control(alice_url, "faults", {"path": "/api/v5/asset/balances", "mode": "http500"})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = pool.connector(spec_for(alice_url), alice_credentials())
        results = await connector.fetch_balances()
        await connector.check_key()
        bad = pool.connector(spec_for(alice_url), alice_credentials(password="Wrong-pass-1"))
        with pytest.raises(WrongPassphraseError) as info:
            await bad.fetch_balances()
    ccxt_records = [r for r in caplog.records if r.name == "keyfolio.exchanges.ccxt"]
    assert ccxt_records, "ccxt's request log should go through keyfolio's masking logger"
    assert any("OK-ACCESS-KEY" in r.getMessage() for r in ccxt_records)
    texts = [r.getMessage() for r in caplog.records]
    texts += [repr(results), info.value.message, info.value.hint, repr(connector)]
    for secret in (ALICE_KEY["apiKey"], ALICE_KEY["secret"], ALICE_KEY["passphrase"]):
        assert not [t for t in texts if secret in t]
    assert not [t for t in texts if "Wrong-pass-1" in t]
    info_lines = [r for r in caplog.records if r.levelno == logging.INFO and "alice" in r.message]
    assert [r.name for r in info_lines].count("keyfolio.exchanges.ccxt_generic") == 2
    assert "wrong_passphrase (50105)" in info_lines[-1].message
