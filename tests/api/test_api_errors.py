"""The one error handler: class -> status through the MRO, and the JSON shape of a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

import keyfolio.errors as errors
from keyfolio.api.errors import STATUS_BY_ERROR, status_for

EXPECTED = {
    "ConfigError": 400,
    "SandboxStateError": 400,
    "UsageError": 400,
    "NotFoundError": 404,
    "ConflictError": 409,
    "VaultError": 400,
    "VaultLockedError": 423,
    "VaultDecryptError": 400,
    "VaultCorruptError": 500,
    "ExchangeError": 502,
    "ExchangeAuthError": 400,
    "InvalidKeyError": 400,
    "KeyRefusedError": 400,
    "KeyNotInRegionError": 400,
    "WrongPassphraseError": 400,
    "InvalidSignatureError": 400,
    "IpNotAllowedError": 400,
    "ClockSkewError": 400,
    "InvalidNonceError": 400,
    "EnvironmentMismatchError": 400,
    "PermissionDeniedError": 400,
    "UnsafeKeyError": 400,
    "ExchangeUnavailableError": 502,
    "RateLimitedError": 502,
    "ExchangeResponseError": 502,
    "ExchangeUnsupportedError": 400,
    "PricingError": 502,
    "PriceNotFoundError": 502,
    "StorageError": 500,
    "SchemaOutdatedError": 500,
    "StorageUnavailableError": 503,
    "NoWorkerError": 503,
    "DataDirError": 503,
    "DatabaseLockedError": 503,
    "DiskFullError": 507,
    "VaultVersionError": 500,
    "InternalError": 500,
    "KeyfolioError": 500,
}


def test_every_error_class_has_its_status() -> None:
    assert set(EXPECTED) == set(errors.__all__)
    for name, status in EXPECTED.items():
        cls = getattr(errors, name)
        assert status_for(cls("boom")) == status, name
    assert all(issubclass(cls, errors.KeyfolioError) for cls in STATUS_BY_ERROR)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.StorageError("disk full", hint="free space"), 500, "storage_error"),
        (RuntimeError("internal detail 42"), 500, "internal"),
    ],
)
async def test_server_errors_have_the_same_shape(
    api: FastAPI, exc: Exception, status: int, code: str
) -> None:
    def boom() -> None:
        raise exc

    api.add_api_route("/api/v1/boom", boom)
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get("/api/v1/boom")
    assert response.status_code == status
    assert response.json()["error"] == code and response.json()["hint"]
    assert "internal detail 42" not in response.text  # an unexpected error's text stays in the log
