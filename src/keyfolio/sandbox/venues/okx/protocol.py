"""OKX V5 wire conventions: the ``{"code","msg","data"}`` envelope, error codes, numbers.

Every number OKX sends is a string and empty values are ``""``; :func:`fmt` turns a Decimal
into OKX's plain notation (no exponent, no trailing zeros).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from keyfolio.sandbox.core.book import now_ms

__all__ = [
    "ERRORS",
    "OkxFailure",
    "dumps",
    "error_body",
    "failure",
    "fmt",
    "now_ms",
    "ok_body",
]

# code -> (HTTP status, official message). Sources: OKX V5 docs, "Error codes" (REST).
ERRORS: dict[str, tuple[int, str]] = {
    "50001": (503, "Service temporarily unavailable. Try again later"),
    "50002": (400, "Json data format error"),
    "50004": (400, "API endpoint request timeout"),
    "50011": (429, "Too Many Requests"),
    "50014": (400, "Parameter {param} can not be empty."),
    "50026": (500, "System error. Try again later"),
    "50101": (401, "APIKey does not match current environment."),
    "50102": (401, "Timestamp request expired."),
    "50103": (401, 'Request header "OK-ACCESS-KEY" cannot be empty.'),
    "50104": (401, 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.'),
    "50105": (401, 'Request header "OK-ACCESS-PASSPHRASE" incorrect.'),
    "50106": (401, 'Request header "OK-ACCESS-SIGN" cannot be empty.'),
    "50107": (401, 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.'),
    "50110": (401, "Your IP {ip} is not included in your API key's IP whitelist."),
    "50111": (401, "Invalid OK-ACCESS-KEY."),
    "50112": (401, "Invalid OK-ACCESS-TIMESTAMP."),
    "50113": (401, "Invalid signature."),
    "50119": (200, "API key doesn't exist"),
    "50120": (200, "This API key doesn't have permission to use this function"),
    "51000": (400, "Parameter {param} error"),
    "51001": (400, "Instrument ID does not exist."),
    # WebSocket (no HTTP status; the status column is unused)
    "60004": (0, "Invalid timestamp"),
    "60006": (0, "Timestamp request expired"),
    "60009": (0, "Login failed."),
    "60011": (0, "Please log in"),
    "60012": (0, "Invalid request: {request}"),
    "60018": (0, "Wrong URL or channel:{channel},instId:{inst_id} doesn't exist."),
    "60024": (0, "Wrong passphrase"),
    "60032": (0, "API key doesn't exist."),
}


class OkxFailure(Exception):
    """An OKX error answer: the code string, its message and the HTTP status to use."""

    def __init__(self, code: str, msg: str, status: int) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def failure(code: str, **params: str) -> OkxFailure:
    """Build the :class:`OkxFailure` for ``code`` with its official message and status."""
    status, template = ERRORS[code]
    return OkxFailure(code, template.format(**params), status)


def fmt(value: Decimal | None) -> str:
    """OKX's number notation: ``Decimal("30000.00")`` -> ``"30000"``; ``None`` -> ``""``."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:f}"


def dumps(payload: Any) -> str:
    """Compact JSON, as OKX sends it."""
    return json.dumps(payload, separators=(",", ":"))


def ok_body(data: list[Any]) -> str:
    """A success envelope: ``{"code":"0","data":[...],"msg":""}``."""
    return dumps({"code": "0", "data": data, "msg": ""})


def error_body(code: str, msg: str) -> str:
    """A failure envelope: ``{"code":"5xxxx","data":[],"msg":"..."}``."""
    return dumps({"code": code, "data": [], "msg": msg})
