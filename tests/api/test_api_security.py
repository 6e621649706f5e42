"""Exposure: token auth, the bind check, Host/Origin checks, security headers, no CORS."""

from __future__ import annotations

import httpx
import pytest
from api_support import TOKEN
from fastapi import FastAPI

from keyfolio.api.app import create_app
from keyfolio.api.security import SECURITY_HEADERS, check_bind, is_loopback_host
from keyfolio.api.server import ServerThread
from keyfolio.config import Settings
from keyfolio.errors import ConfigError


def client_for(api: FastAPI, base_url: str = "http://127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=base_url)


def assert_secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert "access-control-allow-origin" not in response.headers


async def test_security_headers_on_every_kind_of_response(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/health", "/api/v1/nope", "/docs", "/openapi.json", "/"):
        assert_secure(await client.get(path))
    assert_secure(await client.post("/api/v1/portfolios", json={}))
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp


async def test_no_cors_preflight(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/accounts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code in (403, 405)
    assert "access-control-allow-origin" not in response.headers


async def test_cross_origin_writes_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/portfolios", json={"name": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    same = await client.post(
        "/api/v1/portfolios", json={"name": "x"}, headers={"Origin": "http://127.0.0.1"}
    )
    assert same.status_code == 201


async def test_foreign_host_header_is_refused_without_token(api: FastAPI) -> None:
    async with client_for(api, "http://rebind.example") as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 400 and response.json()["error"] == "bad_host"
    for host in ("http://localhost:8420", "http://[::1]:8420"):
        async with client_for(api, host) as http:
            assert (await http.get("/api/v1/health")).status_code == 200


async def test_token_is_required_on_the_api_only(settings: Settings) -> None:
    api = create_app(settings, token=TOKEN, live=False)
    async with client_for(api, "http://192.0.2.10:8420") as http:
        missing = await http.get("/api/v1/portfolios")
        assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_secure(missing)
        wrong = await http.get("/api/v1/portfolios", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = await http.get("/api/v1/portfolios", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        query = await http.get("/api/v1/portfolios", params={"token": TOKEN})
        assert query.status_code == 401  # ?token= is for the event stream only
        good = await http.get("/api/v1/portfolios", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200
        assert (await http.get("/")).status_code == 200  # pages ask for the token themselves
        assert TOKEN not in missing.text + wrong.text + good.text


def test_token_from_settings(tmp_path) -> None:
    settings = Settings(home=tmp_path, api_token=TOKEN)
    assert TOKEN not in repr(settings)
    api = create_app(settings, live=False)
    assert api.state.keyfolio.token == TOKEN


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_non_loopback_bind_needs_a_token_and_https(host: str, settings: Settings) -> None:
    assert not is_loopback_host(host)
    with pytest.raises(ConfigError) as info:
        check_bind(host, None, tls=True)
    assert "KEYFOLIO_API_TOKEN" in info.value.hint and "--token" in info.value.hint
    with pytest.raises(ConfigError):
        ServerThread(settings, host=host)
    with pytest.raises(ConfigError) as plain:  # a token alone would cross the network in clear
        check_bind(host, TOKEN)
    assert "plain HTTP" in plain.value.message
    assert "--tls-cert" in plain.value.hint and "--behind-proxy" in plain.value.hint
    with pytest.raises(ConfigError) as both:
        check_bind(host, None)
    assert "no API token is set and it would speak plain HTTP" in both.value.message
    check_bind(host, TOKEN, tls=True)
    check_bind(host, TOKEN, behind_proxy=True)


def test_behind_a_proxy_the_token_is_required_even_on_loopback() -> None:
    with pytest.raises(ConfigError, match="--behind-proxy without an API token") as info:
        check_bind("127.0.0.1", None, behind_proxy=True)
    assert "KEYFOLIO_API_TOKEN" in info.value.hint
    check_bind("127.0.0.1", TOKEN, behind_proxy=True)
    check_bind("127.0.0.1", None, tls=True)  # HTTPS on loopback needs no token


def test_server_thread_with_token_on_loopback(settings: Settings) -> None:
    with ServerThread(settings, token=TOKEN, live=False) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "/api/v1/health").status_code == 401
        ok = httpx.get(server.url + "/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["status"] == "ok"
        assert "server" not in ok.headers


def test_a_short_token_is_refused_even_on_loopback() -> None:
    with pytest.raises(ConfigError, match="only 5 characters long") as info:
        check_bind("127.0.0.1", "short")
    assert "at least 16" in info.value.hint
