"""OKX's retention windows and its quarterly archives: apply, poll, download, limits, control.

One sandbox for the module; each test uses its own quarter or account, so they stay independent.
ccxt's implicit methods and python-okx judge the protocol (signed POST bodies).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import ccxt.async_support as ccxt
import pytest
from okx.Account import AccountAPI

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues.okx.archive import BILL_COLUMNS
from keyfolio.sandbox.venues.okx.state import parse_state

DAY = 86_400_000
NOW = time.time_ns() // 1_000_000
BILLS = "/api/v5/account/bills-history-archive"
FILLS = "/api/v5/trade/fills-archive"
CONTROL = "/__sandbox__/okx/archives"


def quarter(back: int) -> tuple[str, str]:
    """The (year, "Qn") ``back`` quarters before the current one."""
    moment = datetime.fromtimestamp(NOW / 1000, tz=UTC)
    index = moment.year * 4 + (moment.month - 1) // 3 - back
    return str(index // 4), f"Q{index % 4 + 1}"


def inside(back: int, day: int = 10) -> int:
    """A moment ``day`` days into the quarter ``back`` quarters ago."""
    year, q = quarter(back)
    start = datetime(int(year), 3 * int(q[1]) - 2, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000) + day * DAY


def _fill(ts: int, side: str = "buy", px: str = "50000") -> dict[str, str]:
    return {"instId": "BTC-USDT", "side": side, "fillPx": px, "fillSz": "0.1", "ts": str(ts)}


def _key(who: str) -> dict[str, str]:
    """The key the ``okx`` fixture signs with (tests/sandbox/conftest.py's KEYS)."""
    return {"apiKey": f"{who}-key", "secret": f"{who}-secret", "passphrase": f"{who}-pass"}


def _state() -> dict[str, Any]:
    keys = [
        {"perm": "read_only", "account": "alice", **_key("alice")},
        {"perm": "read_only", "account": "bob", **_key("bob")},
    ]
    fills = [_fill(NOW - DAY), _fill(NOW - 5 * DAY), _fill(NOW - 100 * DAY, "sell", "51000")]
    fills += [_fill(inside(2)), _fill(inside(2, 20), "sell", "52000"), _fill(inside(5))]
    deposits = [{"ccy": "USDT", "amt": "100", "ts": str(NOW - d * DAY)} for d in (10, 40, 700)]
    alice = {"trading": {"BTC": "1"}, "funding": {"USDT": "300"}, "fills": fills}
    return {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": keys,
        "accounts": {"alice": {**alice, "deposits": deposits}, "bob": {}},
    }


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(_state())) as server:
        yield server.url


@pytest.fixture(autouse=True)
def fresh_limits(url: str) -> None:
    """Every test starts with OKX's per-2-seconds limits unused (the daily ones too)."""
    request = urllib.request.Request(url + "/__sandbox__/reset-limits", data=b"{}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def call(url: str, okx: Any, method: str, path: str, body: Any = None, who: str = "alice") -> Any:
    text = "" if body is None else json.dumps(body)
    request = urllib.request.Request(
        url + path,
        data=text.encode() if text else None,
        method=method,
        headers={**okx.headers(who, path, method=method, body=text), "Content-Type": "x/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def control(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + CONTROL, data=data)) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def fetch(href: str) -> bytes | int:
    """The file, or the HTTP status of a refusal."""
    try:
        with urllib.request.urlopen(href, timeout=10) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def body_of(href: str) -> bytes:
    data = fetch(href)
    assert isinstance(data, bytes), data
    return data


def status(url: str, okx: Any, path: str, year: str, q: str, who: str = "alice") -> list[Any]:
    code, body = call(url, okx, "GET", f"{path}?year={year}&quarter={q}", who=who)
    assert (code, body["code"]) == (200, "0"), body
    return list(body["data"])


# -- the windows ---------------------------------------------------------------------------


def test_each_endpoint_serves_its_window_only(url: str, okx: Any) -> None:
    def times(path: str) -> list[int]:
        code, body = call(url, okx, "GET", path)
        assert code == 200, body
        return sorted(int(row["ts"]) for row in body["data"])

    assert times("/api/v5/trade/fills?instType=SPOT") == [NOW - DAY]  # 3 days
    assert times("/api/v5/trade/fills-history?instType=SPOT") == [NOW - 5 * DAY, NOW - DAY]
    assert len(times("/api/v5/account/bills")) == 4  # 7 days: two fills, two bills each
    archive = times("/api/v5/account/bills-archive")  # 3 months: the 100-day fill is gone
    assert len(archive) == 4 and min(archive) == NOW - 5 * DAY
    assert times("/api/v5/asset/bills") == [NOW - 10 * DAY]  # funding bills: 1 month
    deposits = [NOW - d * DAY for d in (700, 40, 10)]
    assert times("/api/v5/asset/deposit-history") == deposits  # no window


# -- apply, poll, download -----------------------------------------------------------------


async def test_ccxt_applies_polls_and_downloads_both_archives(url: str, okx: Any) -> None:
    year, q = quarter(2)
    control(url, {"polls": 2})
    exchange = ccxt.okx(okx.ccxt_config(url))
    try:
        applied = await exchange.private_post_account_bills_history_archive(
            {"year": year, "quarter": q}
        )
        await exchange.private_post_trade_fills_archive({"year": year, "quarter": q})
        states = []
        for _ in range(3):
            answer = await exchange.private_get_account_bills_history_archive(
                {"year": year, "quarter": q}
            )
            states.append(answer["data"][0]["state"])
    finally:
        await exchange.close()
        control(url, {"polls": 1})
    assert applied["data"][0]["result"] == "false" and applied["data"][0]["ts"].isdigit()
    assert states == ["ongoing", "ongoing", "finished"]  # two polls, then the link
    [row] = status(url, okx, BILLS, year, q)
    assert row["state"] == "finished" and row["fileHref"].startswith(url + "/__files__/okx/")
    bills = zipfile.ZipFile(io.BytesIO(body_of(row["fileHref"])))
    [name] = bills.namelist()
    rows = list(csv.DictReader(io.StringIO(bills.read(name).decode())))
    assert tuple(rows[0]) == BILL_COLUMNS and len(rows) == 4
    ids = [int(r["billId"]) for r in rows]
    assert ids == sorted(ids, reverse=True)
    assert {r["ts"] for r in rows} == {str(inside(2)), str(inside(2, 20))}

    assert status(url, okx, FILLS, year, q)[0]["state"] == "ongoing"
    control(url, {"ready": True})  # the control step: every job is done now
    [fills_row] = status(url, okx, FILLS, year, q)
    text = gzip.decompress(body_of(fills_row["fileHref"])).decode()
    fills = list(csv.DictReader(io.StringIO(text)))
    assert [(f["side"], f["fillPx"], f["fillSz"]) for f in fills] == [
        ("sell", "52000", "0.1"),
        ("buy", "50000", "0.1"),
    ]
    assert {"tradeId", "billId", "fee", "feeCcy", "fillTime", "instId"} <= set(fills[0])


def test_apply_again_reuses_the_quarter_and_renews_an_expired_link(url: str, okx: Any) -> None:
    year, q = quarter(5)
    body = {"year": year, "quarter": q}
    first = call(url, okx, "POST", BILLS, body)[1]["data"][0]
    assert first["result"] == "false"
    assert call(url, okx, "POST", BILLS, body)[1]["data"][0] == first  # still being prepared
    assert status(url, okx, BILLS, year, q)[0]["state"] == "ongoing"
    [done] = status(url, okx, BILLS, year, q)
    control(url, {"expire": True})
    assert fetch(done["fileHref"]) == 404
    again = call(url, okx, "POST", BILLS, body)[1]["data"][0]
    assert again == {"result": "true", "ts": first["ts"]}  # prepared in the last 30 days
    [renewed] = status(url, okx, BILLS, year, q)
    assert renewed["fileHref"] != done["fileHref"]
    whole = body_of(renewed["fileHref"])
    assert zipfile.is_zipfile(io.BytesIO(whole))
    assert control(url, {"cut": True})["cut"] is True
    try:
        assert body_of(renewed["fileHref"]) == whole[: len(whole) // 2]  # a dropped download
    finally:
        control(url, {"cut": False})


def test_a_quarter_never_applied_for_has_no_row_and_a_failed_job_is_redone(
    url: str, okx: Any
) -> None:
    year, q = quarter(3)
    assert status(url, okx, BILLS, year, q) == []
    call(url, okx, "POST", BILLS, {"year": year, "quarter": q})
    jobs = control(url, {"fail": True})["jobs"]
    assert any(j["state"] == "failed" and (j["year"], j["quarter"]) == (int(year), q) for j in jobs)
    assert status(url, okx, BILLS, year, q)[0]["state"] == "failed"
    assert call(url, okx, "POST", BILLS, {"year": year, "quarter": q})[1]["data"][0]["result"] == (
        "false"
    )
    assert status(url, okx, BILLS, year, q)[0]["state"] == "ongoing"


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status_code", "code", "msg"),
    [
        (BILLS, {"year": quarter(0)[0], "quarter": quarter(0)[1]}, 400, "51000",
         "Parameter quarter error"),
        (BILLS, {"year": "2020", "quarter": "Q4"}, 400, "51000", "Parameter quarter error"),
        (FILLS, {"year": quarter(9)[0], "quarter": quarter(9)[1]}, 400, "51000",
         "Parameter quarter error"),
        (BILLS, {"quarter": "Q1"}, 400, "50014", "Parameter year can not be empty."),
        (BILLS, {"year": "2023", "quarter": "q1"}, 400, "51000", "Parameter quarter error"),
        (BILLS, {"year": "23", "quarter": "Q1"}, 400, "51000", "Parameter year error"),
        (BILLS, [1], 400, "50002", "Json data format error"),
    ],
)  # fmt: skip
def test_applications_outside_the_archive_are_refused(
    url: str, okx: Any, path: str, body: Any, status_code: int, code: str, msg: str
) -> None:
    got, answer = call(url, okx, "POST", path, body)
    assert (got, answer["code"], answer["msg"], answer["data"]) == (status_code, code, msg, [])


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # python-okx's POST
def test_applications_may_need_more_than_read(url: str, okx: Any) -> None:
    year, q = quarter(4)
    control(url, {"apply_permission": "trade"})
    try:
        api = AccountAPI(
            api_key=okx.keys["alice"]["apiKey"],
            api_secret_key=okx.keys["alice"]["secret"],
            passphrase=okx.keys["alice"]["passphrase"],
            flag="0",
            domain=url,
            debug=False,
        )
        try:
            answer = api.apply_bills(year=year, quarter=q)
        finally:
            api.close()
    finally:
        control(url, {"apply_permission": "read_only"})
    assert answer == {
        "code": "50120",
        "data": [],
        "msg": "This API key doesn't have permission to use this function",
    }
    assert status(url, okx, BILLS, year, q) == []  # the status may still be read


def test_applications_are_limited_per_account_and_day(url: str, okx: Any) -> None:
    answers = [
        call(
            url,
            okx,
            "POST",
            BILLS,
            dict(zip(("year", "quarter"), quarter(n), strict=True)),
            who="bob",
        )  # fmt: skip
        for n in range(1, 14)
    ]
    assert [a[1]["code"] for a in answers] == ["0"] * 12 + ["50011"]
    assert answers[-1][0] == 429
    # another account has its own day
    year, q = quarter(6)
    assert call(url, okx, "POST", BILLS, {"year": year, "quarter": q})[1]["code"] == "0"


def test_unknown_links_and_control_mistakes(url: str) -> None:
    assert fetch(url + "/__files__/okx/nothing-here") == 404
    for body in ({"polls": -1}, {"apply_permission": "withdraw"}, {"later": True}, {"cut": 1}):
        assert control(url, body) == 400
