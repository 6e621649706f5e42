"""`keyfolio doctor` on 50119: it asks, then probes the other regions and names the right one.

Four sandboxes play OKX's regional hosts through KEYFOLIO_OKX_HOSTS__<REGION>: the account is
linked while the key exists in the global region; later the global host no longer knows it
(as when a user's account moves to my.okx.com), and only the EEA host accepts it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from cli_support import PASSWORD, READ_KEY, Runner, base_state

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues.okx.state import parse_state
from keyfolio.services.accounts import link_account
from keyfolio.services.context import App


def state_with_key_region(region: str) -> object:
    data = copy.deepcopy(base_state())
    data["keys"] = [{**data["keys"][0], "region": region}]
    return parse_state(data)


@pytest.fixture
def hosts() -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        urls = {
            "linked": stack.enter_context(SandboxThread(state_with_key_region("global"))).url,
            "global": stack.enter_context(
                SandboxThread(state_with_key_region("eea"), region="global")
            ).url,
            "eea": stack.enter_context(
                SandboxThread(state_with_key_region("eea"), region="eea")
            ).url,
            "us": stack.enter_context(SandboxThread(state_with_key_region("eea"), region="us")).url,
        }
        yield urls


def env_for(hosts: dict[str, str], global_host: str) -> dict[str, str]:
    return {
        "KEYFOLIO_OKX_HOSTS__GLOBAL": global_host,
        "KEYFOLIO_OKX_HOSTS__EEA": hosts["eea"],
        "KEYFOLIO_OKX_HOSTS__US": hosts["us"],
    }


@pytest.fixture
def moved(kf: Runner, hosts: dict[str, str]) -> dict[str, str]:
    """Link 'alice' while global knows the key; return the env in which it no longer does.

    Linked in-process (the tests are about `doctor`; `account add` has its own tests).
    """
    okx_hosts = {"global": hosts["linked"], "eea": hosts["eea"], "us": hosts["us"]}
    app = App(settings=Settings(home=kf.home, okx_hosts=okx_hosts), password=lambda **_: PASSWORD)
    try:
        credentials = Credentials(
            fields={
                "apiKey": READ_KEY["apiKey"],
                "secret": READ_KEY["secret"],
                "password": READ_KEY["passphrase"],
            }
        )
        asyncio.run(link_account(app, AccountSpec(exchange="okx", name="alice"), credentials))
    finally:
        app.close()
    return env_for(hosts, hosts["global"])


def test_doctor_probes_other_regions_after_50119(kf: Runner, moved: dict[str, str]) -> None:
    declined = kf("doctor", "--no-probe-regions", env=moved)
    assert declined.returncode == 1
    assert "--region" in declined.stdout and "not probed" in declined.stdout

    probed = kf("doctor", "--probe-regions", env=moved)
    assert probed.returncode == 1
    lines = {
        line.split("│")[1].strip(): line
        for line in probed.stdout.splitlines()
        if line.count("│") > 2
    }
    assert " ok " in lines["region eea"] and "--region eea" in probed.stdout
    assert " fail " in lines["region us"]


def test_doctor_without_terminal_does_not_probe_unasked(kf: Runner, moved: dict[str, str]) -> None:
    result = kf("doctor", env=moved)
    assert result.returncode == 1
    assert "Use --probe-regions" in result.stderr
    assert "not probed (declined)" in result.stdout
    assert "works in this region" not in result.stdout
