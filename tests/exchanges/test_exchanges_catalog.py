"""The exchange catalog: first-class venues from their tables, ccxt's credentials, unknown ids."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keyfolio.domain.accounts import Region
from keyfolio.domain.balances import Source
from keyfolio.errors import ExchangeUnsupportedError
from keyfolio.exchanges import catalog, okx


def test_okx_info() -> None:
    info = catalog.exchange_info("okx")
    assert info.name == "OKX"
    assert info.required_credentials == ("apiKey", "secret", "password")
    assert info.has_permission_check and info.verified_offline
    assert info.sources == (Source.TRADING, Source.FUNDING, Source.SAVINGS, Source.ONCHAIN_EARN)


def test_okx_labels() -> None:
    labels = [catalog.credential_label(f, "okx") for f in ("apiKey", "secret", "password")]
    assert labels == ["API key", "Secret key", "Passphrase"]


def test_binance_is_first_class_with_its_own_words() -> None:
    info = catalog.exchange_info("binance")
    assert info.first_class and info.has_permission_check and info.verified_offline
    assert info.required_credentials == ("apiKey", "secret")
    assert info.source_labels == ("Spot", "Funding", "Simple Earn Flexible", "Simple Earn Locked")
    assert "Enable Reading" in info.key_guide
    labels = [catalog.credential_label(f, "binance") for f in ("apiKey", "secret")]
    assert labels == ["API Key", "Secret Key"]


def test_generic_labels() -> None:
    assert catalog.credential_label("apiKey", "gate") == "API key"
    assert catalog.credential_label("secret", "gate") == "Secret"
    assert catalog.credential_label("password", "kucoin") == "Password"
    assert catalog.credential_label("uid", "bitstamp") == "User ID"


@pytest.mark.parametrize("exchange_id", ["gate", "bitstamp"])
def test_generic_required_credentials(exchange_id: str) -> None:
    info = catalog.exchange_info(exchange_id)
    assert {"apiKey", "secret"} <= set(info.required_credentials)
    assert not info.has_permission_check and not info.first_class
    assert not info.verified_offline
    assert info.sources == (Source.TRADING,)


def test_list_exchanges_first_class_first_and_every_ccxt_id() -> None:
    import ccxt

    listed = catalog.list_exchanges()
    assert [i.id for i in listed[:4]] == ["okx", "myokx", "okxus", "binance"]
    assert sorted(i.id for i in listed) == sorted(ccxt.exchanges)


def test_unknown_exchange_has_hint_and_suggestion() -> None:
    with pytest.raises(ExchangeUnsupportedError) as info:
        catalog.exchange_info("binanse")
    assert "binance" in info.value.message
    assert "keyfolio exchanges" in info.value.hint


def test_region_hosts() -> None:
    assert okx.region_host(Region.GLOBAL) == "https://www.okx.com"
    assert okx.region_host(Region.EEA) == "https://eea.okx.com"
    assert okx.region_host(Region.US) == "https://us.okx.com"


def test_importing_exchanges_and_okx_info_do_not_import_ccxt() -> None:
    code = (
        "import sys, keyfolio.exchanges as e;"
        "e.exchange_info('okx'); e.credential_label('secret', 'okx');"
        "e.exchange_info('binance');"
        "assert 'ccxt' not in sys.modules, 'ccxt imported';"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
