"""The API's one error boundary: every error is ``{"error": code, "message", "hint"}``.

One handler on :class:`~keyfolio.errors.KeyfolioError` picks the HTTP status from
:data:`STATUS_BY_ERROR` by walking the exception's MRO, so a new subclass gets its parent's
status. Request validation (422), unknown routes (404), wrong methods (405) and unexpected
exceptions (500) answer in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyfolio.errors import (
    ConfigError,
    ConflictError,
    DiskFullError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    KeyfolioError,
    NotFoundError,
    NoWorkerError,
    PricingError,
    StorageUnavailableError,
    UnsafeKeyError,
    UsageError,
    VaultCorruptError,
    VaultError,
    VaultLockedError,
)
from keyfolio.logging import redact

__all__ = ["STATUS_BY_ERROR", "error_body", "install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[KeyfolioError], int] = {
    KeyfolioError: 500,
    ConfigError: 400,
    UsageError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    VaultError: 400,
    VaultLockedError: 423,
    VaultCorruptError: 500,
    ExchangeError: 502,
    ExchangeAuthError: 400,  # the credentials are the user's input
    UnsafeKeyError: 400,
    ExchangeUnsupportedError: 400,
    ExchangeUnavailableError: 502,
    PricingError: 502,
    NoWorkerError: 503,  # hosted mode: no worker runs the sync jobs
    StorageUnavailableError: 503,  # the server's disk, data directory or database lock
    DiskFullError: 507,
}
"""HTTP status per error class; the most specific class in the MRO wins."""

_HTTP_CODES = {
    400: ("bad_request", "Check the request against the API documentation at /docs."),
    401: ("unauthorized", "Send the server's token as `Authorization: Bearer TOKEN`."),
    403: ("forbidden", "Call the API from the dashboard's own origin."),
    404: ("not_found", "See /docs for the API's routes."),
    405: ("method_not_allowed", "See /docs for the methods each route accepts."),
}


def status_for(exc: KeyfolioError) -> int:
    """The HTTP status of a keyfolio error (its most specific mapped class)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500  # pragma: no cover - KeyfolioError itself is mapped


def error_body(code: str, message: str, hint: str) -> dict[str, str]:
    """The error document; message and hint are passed through the secret redaction."""
    return {
        "error": code,
        "message": redact(message, patterns=False),
        "hint": redact(hint, patterns=False),
    }


def _keyfolio_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KeyfolioError)
    status = status_for(exc)
    if status >= 500:
        logger.warning("%s %s failed: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc.code, exc.message, exc.hint), status_code=status)


def _location(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors()[:5]]
    message = "invalid request: " + ("; ".join(problems) or "the body is not valid JSON")
    return JSONResponse(
        error_body(
            "validation",
            message,
            "Fix the fields named above; /docs shows every field and its type.",
        ),
        status_code=422,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, hint = _HTTP_CODES.get(exc.status_code, ("http_error", "See /docs."))
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return JSONResponse(
        error_body(code, message, hint), status_code=exc.status_code, headers=exc.headers
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body(
            "internal",
            f"unexpected {type(exc).__name__} while handling {request.url.path}",
            "This is a bug in keyfolio. The server log has the details; please report it.",
        ),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(KeyfolioError, _keyfolio_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
