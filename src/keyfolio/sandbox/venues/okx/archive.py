"""OKX's asynchronous history archives: bills since 2021 and fills, one quarter per file.

=====  ==========================================  ===========================================
POST   ``/api/v5/account/bills-history-archive``   ``{"year","quarter"}`` -> ``[{"result","ts"}]``
GET    ``/api/v5/account/bills-history-archive``   ``?year=&quarter=`` -> ``[{"fileHref","state",
                                                   "ts"}]`` (``[]`` before any application)
POST   ``/api/v5/trade/fills-archive``             the same, for fills
GET    ``/api/v5/trade/fills-archive``             the same, for fills
GET    ``/__files__/okx/<token>``                  the file ``fileHref`` names (no auth)
=====  ==========================================  ===========================================

An application (``result: "false"``) starts a job that stays ``ongoing`` for a deterministic
number of polls (``GET`` answers), then is ``finished`` with a link; ``result: "true"`` means the
quarter was prepared in the last 30 days (its link is renewed). A link expires 5.5 hours after it
is made. The bills file is a zip holding one CSV with OKX's documented columns, newest ``billId``
first; the fills file is a gzip'd CSV with the fields of ``/trade/fills-history``.

Bills are served from 2021 Q1, fills for the last 8 complete quarters (OKX: "about two years";
unverified), never the current quarter. Applications are limited per account and day (bills 12,
fills 10). The control API (``/__sandbox__/okx/archives``) sets the number of polls, finishes,
fails or expires jobs, can make applications need more than a read-only key, and can serve
every file cut short (``cut``), as a dropped download leaves it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from keyfolio.sandbox.core.http import LOG_CODE, Handler
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues.okx.protocol import OkxFailure, failure, fmt, now_ms, ok_body

if TYPE_CHECKING:
    from keyfolio.sandbox.venues.okx.book import Account
    from keyfolio.sandbox.venues.okx.state import KeyState

__all__ = [
    "BILL_COLUMNS",
    "FILES_PREFIX",
    "KINDS",
    "Archives",
    "Job",
    "control_routes",
    "quarter_of",
    "register",
]

FILES_PREFIX = "/__files__/okx/"
BILLS_PATH = "/api/v5/account/bills-history-archive"
FILLS_PATH = "/api/v5/trade/fills-archive"
KINDS = {BILLS_PATH: "bills", FILLS_PATH: "fills"}

#: Applications per account and day (bills: OKX's docs; fills: "about 10", unverified).
APPLY_LIMITS = {"bills": 12, "fills": 10}
_DAY_S = 86_400.0
_LINK_TTL_MS = 5 * 3_600_000 + 1_800_000  # 5.5 hours
_REUSE_MS = 30 * 86_400_000  # a prepared quarter is reused for 30 days
_FILLS_QUARTERS = 8  # the fills archive reaches about two years back (unverified)

#: The columns of the decompressed bills CSV, as OKX documents them.
BILL_COLUMNS = (
    "instType", "billId", "subType", "ts", "balChg", "posBalChg", "bal", "posBal", "sz", "px",
    "ccy", "pnl", "fee", "mgnMode", "instId", "ordId", "execType", "interest", "tag",
    "fillTime", "tradeId", "clOrdId", "fillIdxPx", "fillMarkPx", "fillPxVol", "fillPxUsd",
    "fillMarkVol", "fillFwdPx",
)  # fmt: skip


def quarter_of(ms: int) -> tuple[int, int]:
    """The (year, quarter 1-4) a Unix-ms moment falls in (UTC)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.year, (moment.month - 1) // 3 + 1


def _bounds(year: int, quarter: int) -> tuple[int, int]:
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
    end = datetime(year + quarter // 4, 3 * quarter + 1 if quarter < 4 else 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _index(year: int, quarter: int) -> int:
    return year * 4 + quarter - 1


@dataclass
class Job:
    """One application: an account's archive of one kind and quarter."""

    account: str
    kind: str
    year: int
    quarter: int
    applied_ms: int
    polls_left: int
    state: str = "ongoing"
    finished_ms: int | None = None
    token: str | None = None
    expires_ms: int | None = None
    body: bytes = b""

    def describe(self) -> dict[str, Any]:
        """The job for the control API (no file, no token)."""
        return {
            "account": self.account,
            "kind": self.kind,
            "year": self.year,
            "quarter": f"Q{self.quarter}",
            "state": self.state,
            "polls_left": self.polls_left,
            "link": self.token is not None,
        }


@dataclass
class Archives:
    """Every archive job of one sandbox, and how they behave (set by the control API)."""

    polls: int = 1
    """How many ``GET`` answers say ``ongoing`` before a new job is finished."""
    apply_permission: str = "read_only"
    """The permission an application needs: ``read_only`` (OKX's docs) or ``trade``."""
    cut: bool = False
    """Serve every file cut to half its bytes, as a dropped download leaves it."""
    jobs: dict[tuple[str, str, int, int], Job] = field(default_factory=dict)

    def job(self, account: str, kind: str, year: int, quarter: int) -> Job | None:
        return self.jobs.get((account, kind, year, quarter))

    def finish(self, job: Job, account: Account) -> None:
        """Make the job's file (a snapshot of the quarter now) and a fresh link."""
        job.state = "finished"
        job.polls_left = 0
        job.finished_ms = now_ms()
        job.body = _bills_file(account, job) if job.kind == "bills" else _fills_file(account, job)
        self.renew(job)

    @staticmethod
    def renew(job: Job) -> None:
        job.token = secrets.token_urlsafe(24)
        job.expires_ms = now_ms() + _LINK_TTL_MS

    def by_token(self, token: str) -> Job | None:
        for job in self.jobs.values():
            if job.token == token:
                return job
        return None


def _csv(columns: tuple[str, ...] | list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _bills_file(account: Account, job: Job) -> bytes:
    from keyfolio.sandbox.venues.okx.history import bill_rows  # history imports the books

    start, end = _bounds(job.year, job.quarter)
    rows = [r for r in bill_rows(account) if start <= int(r["ts"]) < end]
    rows.sort(key=lambda r: int(r["billId"]), reverse=True)  # newest billId first, as OKX says
    text = [
        {**r, "bal": fmt(r["bal"]), "balChg": fmt(r["balChg"]), "billId": str(r["billId"])}
        for r in rows
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        name = f"bills-{job.year}-Q{job.quarter}.csv"
        archive.writestr(name, _csv(BILL_COLUMNS, text))
    return buffer.getvalue()


def _fills_file(account: Account, job: Job) -> bytes:
    from keyfolio.sandbox.venues.okx.history import fill_row

    start, end = _bounds(job.year, job.quarter)
    rows = [fill_row(f) for f in account.fills if start <= f.ts < end]
    rows.sort(key=lambda r: int(r["billId"]), reverse=True)
    columns = list(fill_row(account.fills[0])) if account.fills else ["instType", "instId"]
    return gzip.compress(_csv(columns, rows), mtime=0)


def archives_of(rt: Runtime) -> Archives:
    """The sandbox's archive jobs (kept in the books: they survive ``reset-limits``)."""
    archives = getattr(rt.book, "archives", None)
    assert isinstance(archives, Archives)
    return archives


def _quarter(params: dict[str, Any]) -> tuple[int, int]:
    year, quarter = params.get("year"), params.get("quarter")
    if year in (None, ""):
        raise failure("50014", param="year")
    if quarter in (None, ""):
        raise failure("50014", param="quarter")
    if not isinstance(year, str) or len(year) != 4 or not year.isdigit():
        raise failure("51000", param="year")
    if quarter not in ("Q1", "Q2", "Q3", "Q4"):
        raise failure("51000", param="quarter")
    return int(year), int(quarter[1])


def _check_offered(kind: str, year: int, quarter: int) -> None:
    """Bills from 2021 Q1, fills for the last 8 complete quarters; never the current one."""
    current = _index(*quarter_of(now_ms()))
    wanted = _index(year, quarter)
    first = _index(2021, 1) if kind == "bills" else current - _FILLS_QUARTERS
    if not first <= wanted < current:
        raise failure("51000", param="quarter")


def apply(rt: Runtime, key: KeyState, kind: str, params: dict[str, Any]) -> list[dict[str, str]]:
    """``POST``: start (or reuse) the job of one quarter."""
    archives = archives_of(rt)
    if archives.apply_permission not in key.permissions:
        raise failure("50120")
    year, quarter = _quarter(params)
    _check_offered(kind, year, quarter)
    who, what = "uid:" + key.account, f"apply {kind}"
    if rt.rate_limit and not rt.limiter.allow(who, what, APPLY_LIMITS[kind], _DAY_S):
        raise failure("50011")
    now = now_ms()
    job = archives.job(key.account, kind, year, quarter)
    if job is not None and job.state == "finished" and now - job.applied_ms < _REUSE_MS:
        archives.renew(job)
        return [{"result": "true", "ts": str(job.applied_ms)}]
    if job is not None and job.state == "ongoing":
        return [{"result": "false", "ts": str(job.applied_ms)}]
    job = Job(key.account, kind, year, quarter, applied_ms=now, polls_left=archives.polls)
    archives.jobs[(key.account, kind, year, quarter)] = job
    return [{"result": "false", "ts": str(now)}]


def status(rt: Runtime, request: web.Request, key: KeyState, kind: str) -> list[dict[str, str]]:
    """``GET``: the job's state and link; a poll brings an ``ongoing`` job closer to done."""
    archives = archives_of(rt)
    year, quarter = _quarter(dict(request.query))
    job = archives.job(key.account, kind, year, quarter)
    if job is None:
        return []
    if job.state == "ongoing":
        if job.polls_left > 0:
            job.polls_left -= 1
        else:
            archives.finish(job, rt.book.accounts[key.account])
    if job.state != "finished":
        return [{"fileHref": "", "state": job.state, "ts": str(job.applied_ms)}]
    href = f"{request.url.origin()}{FILES_PREFIX}{job.token}"
    return [{"fileHref": href, "state": "finished", "ts": str(job.finished_ms)}]


async def download(request: web.Request) -> web.StreamResponse:
    """``GET /__files__/okx/<token>``: the file, while its link is valid (else 404)."""
    rt = request.app[RUNTIME]
    job = archives_of(rt).by_token(request.match_info["token"])
    if job is None or job.expires_ms is None or now_ms() >= job.expires_ms:
        response = web.Response(text="NoSuchKey: the link is unknown or expired", status=404)
        response[LOG_CODE] = "404"
        return response
    name = f"{job.kind}-{job.year}-Q{job.quarter}"
    zipped = job.kind == "bills"
    body = job.body[: len(job.body) // 2] if archives_of(rt).cut else job.body
    response = web.Response(
        body=body,
        content_type="application/zip" if zipped else "application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{"zip" if zipped else "csv.gz"}"'
        },
    )
    response[LOG_CODE] = "0"
    return response


def _post_params(body: str) -> dict[str, Any]:
    try:
        params = json.loads(body or "{}")
    except json.JSONDecodeError:
        raise failure("50002") from None
    if not isinstance(params, dict):
        raise failure("50002")
    return params


def handler(kind: str, method: str) -> Handler:
    """The REST handler of one archive endpoint (auth and limits come first)."""
    from keyfolio.sandbox.core.http import respond
    from keyfolio.sandbox.venues.okx.rest import authenticate, failure_response

    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        try:
            key = await authenticate(rt, request)
            if method == "POST":
                data = apply(rt, key, kind, _post_params(await request.text()))
            else:
                data = status(rt, request, key, kind)
        except OkxFailure as exc:
            return failure_response(exc)
        return respond(ok_body(data))

    return handle


def register(router: web.UrlDispatcher) -> None:
    """The archive endpoints and the file downloads."""
    for path, kind in KINDS.items():
        router.add_get(path, handler(kind, "GET"), allow_head=False)
        router.add_post(path, handler(kind, "POST"))
    router.add_get(FILES_PREFIX + "{token}", download, allow_head=False)


async def control(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/okx/archives``: ``{"polls"?, "apply_permission"?, "ready"?,
    "fail"?, "expire"?, "cut"?}``; ``GET``: the settings and every job."""
    rt = request.app[RUNTIME]
    archives = archives_of(rt)
    if request.method == "POST":
        body = json.loads(await request.text() or "{}")
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"polls", "apply_permission", "ready", "fail", "expire", "cut"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        polls = body.get("polls", archives.polls)
        if isinstance(polls, bool) or not isinstance(polls, int) or polls < 0:
            raise ValueError("polls must be an integer, 0 or more")
        permission = body.get("apply_permission", archives.apply_permission)
        if permission not in ("read_only", "trade"):
            raise ValueError("apply_permission must be read_only or trade")
        for flag in ("ready", "fail", "expire", "cut"):
            if not isinstance(body.get(flag, False), bool):
                raise ValueError(f"{flag} must be true or false")
        archives.polls, archives.apply_permission = polls, permission
        archives.cut = body.get("cut", archives.cut)
        for job in archives.jobs.values():
            if job.state == "ongoing" and body.get("ready"):
                archives.finish(job, rt.book.accounts[job.account])
            elif job.state == "ongoing" and body.get("fail"):
                job.state = "failed"
            if body.get("expire") and job.expires_ms is not None:
                job.expires_ms = now_ms()
    return web.json_response(
        {
            "polls": archives.polls,
            "apply_permission": archives.apply_permission,
            "cut": archives.cut,
            "jobs": [job.describe() for job in archives.jobs.values()],
        }
    )


def control_routes() -> list[tuple[str, str, Handler]]:
    """The OKX-only control routes (the core guards them: loopback callers only)."""
    path = "/__sandbox__/okx/archives"
    return [("GET", path, control), ("POST", path, control)]
