"""HTTPS: serving with a certificate, the checks on the certificate and key, and the proxy mode."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from api_support import PASSWORD, TOKEN
from tls_support import make_cert

from keyfolio.api.app import create_app
from keyfolio.api.server import ProxyConfig, ServerThread, TlsConfig, build_server
from keyfolio.config import Settings
from keyfolio.errors import ConfigError, UsageError

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HSTS = "max-age=31536000"


def test_https_with_a_self_signed_certificate(tmp_path: Path, settings: Settings) -> None:
    files = make_cert(tmp_path)
    tls = TlsConfig.from_options(files.cert, files.key)
    assert tls is not None
    with ServerThread(settings, tls=tls, password=PASSWORD, live=False) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=files.client_context(), base_url=server.url) as http:
            health = http.get("/api/v1/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert health.headers["strict-transport-security"] == HSTS
            unlock = http.post("/api/v1/vault/unlock", json={"password": PASSWORD})
            assert unlock.status_code == 200 and unlock.json()["unlocked"] is True
            page = http.get("/unlock")
            assert page.status_code == 200 and page.headers["strict-transport-security"] == HSTS
        with pytest.raises(httpx.ConnectError):  # a client that does not trust it refuses it
            httpx.get(server.url + "/api/v1/health")
        with pytest.raises(httpx.HTTPError):  # the socket speaks TLS only: no plain answer
            httpx.get(server.url.replace("https://", "http://") + "/api/v1/health")


async def test_plain_loopback_responses_carry_no_hsts(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert "strict-transport-security" not in response.headers


def _pem_garbage(path: Path) -> Path:
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing cert", "does not exist"),
        ("missing key", "does not exist"),
        ("directory", "cannot read the TLS certificate"),
        ("not pem", "holds no PEM certificate"),
        ("cert as key", "holds no PEM private key"),
        ("mismatch", "does not belong to the certificate"),
        ("encrypted", "encrypted with a passphrase"),
        ("broken pem", "cannot be used"),
    ],
)
def test_bad_certificate_or_key_is_a_config_error_with_a_hint(
    tmp_path: Path, case: str, message: str
) -> None:
    good = make_cert(tmp_path, "good")
    other = make_cert(tmp_path, "other")
    cert, key = good.cert, good.key
    if case == "missing cert":
        cert = tmp_path / "nowhere.crt"
    elif case == "missing key":
        key = tmp_path / "nowhere.key"
    elif case == "directory":
        cert = tmp_path
    elif case == "not pem":
        cert = tmp_path / "junk.crt"
        cert.write_text("hello")
    elif case == "cert as key":
        key = good.cert
    elif case == "mismatch":
        key = other.key
    elif case == "encrypted":
        key = make_cert(tmp_path, "locked", encrypted=True).key
    elif case == "broken pem":
        cert = _pem_garbage(tmp_path / "broken.crt")
    with pytest.raises(ConfigError) as info:
        TlsConfig.from_options(cert, key)
    assert message in info.value.message
    assert info.value.hint and info.value.exit_code == 2


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_key_is_named(tmp_path: Path) -> None:
    files = make_cert(tmp_path)
    files.key.chmod(0)
    with pytest.raises(ConfigError, match="cannot read the TLS private key") as info:
        TlsConfig.from_options(files.cert, files.key)
    assert "--tls-key" in info.value.hint


def test_cert_and_key_go_together(tmp_path: Path) -> None:
    files = make_cert(tmp_path)
    with pytest.raises(UsageError, match="--tls-cert needs --tls-key"):
        TlsConfig.from_options(files.cert, None)
    with pytest.raises(UsageError, match="--tls-key needs --tls-cert"):
        TlsConfig.from_options(None, files.key)
    assert TlsConfig.from_options(None, None) is None


def test_a_key_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = make_cert(tmp_path)
    files.key.chmod(0o644)
    TlsConfig.from_options(files.cert, files.key)
    assert "other users can read it" in caplog.text


def test_proxy_headers_are_honoured_from_the_proxy_only(settings: Settings) -> None:
    api = create_app(settings, token=TOKEN, live=False, require_https=True)
    proxy = ProxyConfig(trusted=("10.0.0.5",))
    server = build_server(api, host="127.0.0.1", port=0, proxy=proxy)
    assert server.config.proxy_headers is True
    assert server.config.forwarded_allow_ips == ["10.0.0.5"]  # never uvicorn's env default
    assert build_server(api, host="127.0.0.1", port=0).config.proxy_headers is False


def test_behind_a_proxy_only_https_forwarded_by_the_proxy_is_answered(settings: Settings) -> None:
    with ServerThread(settings, token=TOKEN, proxy=ProxyConfig(), live=False) as server:
        url = server.url + "/api/v1/health"
        direct = httpx.get(url, headers=AUTH)
        assert direct.status_code == 403 and direct.json()["error"] == "https_required"
        assert "X-Forwarded-Proto" in direct.json()["hint"]
        http_proxied = httpx.get(url, headers={**AUTH, "X-Forwarded-Proto": "http"})
        assert http_proxied.status_code == 403
        proxied = httpx.get(
            url,
            headers={**AUTH, "X-Forwarded-Proto": "https", "Host": "keyfolio.example.com"},
        )
        assert proxied.status_code == 200 and proxied.headers["strict-transport-security"] == HSTS
        no_token = httpx.get(url, headers={"X-Forwarded-Proto": "https"})
        assert no_token.status_code == 401  # the proxy does not replace the token
    untrusted = ProxyConfig(trusted=("10.0.0.5",))  # the proxy is elsewhere: 127.0.0.1 is not it
    with ServerThread(settings, token=TOKEN, proxy=untrusted, live=False) as server:
        spoofed = httpx.get(
            server.url + "/api/v1/health", headers={**AUTH, "X-Forwarded-Proto": "https"}
        )
        assert spoofed.status_code == 403 and spoofed.json()["error"] == "https_required"
