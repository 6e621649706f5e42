"""OKX history older than the API's 3 months: the quarterly archives, applied for and downloaded.

OKX prepares a file per quarter on request (``POST``), says when it is ready (``GET``: ``ongoing``,
``finished`` with a link, ``failed``), and serves it from a link valid for 5.5 hours:

* ``archive:bills`` -- ``/api/v5/account/bills-history-archive``: trading-account bills since
  2021 Q1 (a zip holding one CSV). Each bill is a ledger entry (id ``billId``, as the 3-month
  ``ledger:trading`` stream's); the pairs of spot trade bills also give their trades.
* ``archive:fills`` -- ``/api/v5/trade/fills-archive``: fills of the last 8 complete quarters
  (about two years; unverified), each a trade with the API's id ``instId:tradeId``.

So a record is stored once, whichever way it came (archive, API, or ``keyfolio import csv``).

Each stream walks every complete quarter, newest first, one step per page: poll a quarter it
applied for, download it when it is ready (one page: the quarter's records, in one transaction
with the cursor), or apply for the next one. Applications are scarce (OKX: bills 12 a day, fills
"about 10"), so keyfolio spends at most :data:`APPLY_BUDGET` per rolling 24 hours and never
retries one; a quarter being prepared is polled once per run (a sync), never waited for. The
cursor (JSON) keeps ``imported`` quarters, ``applied`` ones with their time, the ``applies`` of the
last 24 hours, quarters OKX said it does not offer (``unavailable``, tried again a day later),
and ``refused`` when OKX would not prepare an archive for this key (tried again a day later).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import HistoryKind
from keyfolio.errors import (
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    PermissionDeniedError,
    RateLimitedError,
)
from keyfolio.exchanges._closing import finish_closing
from keyfolio.exchanges.exports import MAX_FILE_BYTES, ExportFormat, decode_file, read_table
from keyfolio.exchanges.history import HistoryPage, HistoryRecord, HistoryStream, load_cursor
from keyfolio.exchanges.okx_exports import BILLS, FILLS
from keyfolio.exchanges.retry import call_with_retries

if TYPE_CHECKING:
    from keyfolio.exchanges.okx import OkxConnector

__all__ = [
    "APPLY_BUDGET",
    "ARCHIVES",
    "Archive",
    "ArchiveState",
    "ArchiveStream",
    "archive_streams",
    "quarter_label",
]

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
APPLY_BUDGET = {"bills": 10, "fills": 8}
"""Applications keyfolio makes per rolling 24 hours (OKX allows bills 12, fills about 10)."""


@dataclass(frozen=True)
class Archive:
    """One kind of OKX archive."""

    name: str
    key: str
    kind: HistoryKind
    path: str
    format: ExportFormat
    first: Callable[[int], int]
    """The first quarter offered (an index: year x 4 + quarter - 1), given the current one."""

    @property
    def what(self) -> str:
        return f"{self.name} archive"

    @property
    def methods(self) -> tuple[str, str]:
        """ccxt's implicit (apply, status) methods."""
        words = "".join(part.capitalize() for part in self.path.replace("-", "/").split("/"))
        return "privatePost" + words, "privateGet" + words


ARCHIVES = (
    Archive("bills", "archive:bills", HistoryKind.LEDGER, "account/bills-history-archive", BILLS,
            first=lambda current: 2021 * 4),
    Archive("fills", "archive:fills", HistoryKind.TRADES, "trade/fills-archive", FILLS,
            first=lambda current: current - 8),
)  # fmt: skip


def quarter_label(index: int) -> str:
    """``2024Q3`` for a quarter index."""
    return f"{index // 4}Q{index % 4 + 1}"


def _index(label: str) -> int:
    year, quarter = label.split("Q")
    return int(year) * 4 + int(quarter) - 1


def _current(now: float) -> int:
    moment = datetime.fromtimestamp(now, tz=UTC)
    return moment.year * 4 + (moment.month - 1) // 3


@dataclass
class ArchiveState:
    """The persisted position of one archive stream (see the module docstring)."""

    imported: set[str] = field(default_factory=set)
    applied: dict[str, float] = field(default_factory=dict)
    applies: list[float] = field(default_factory=list)
    unavailable: dict[str, float] = field(default_factory=dict)
    damaged: dict[str, float] = field(default_factory=dict)
    refused: float | None = None
    limited: float | None = None
    unsupported: float | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "imported": sorted(self.imported),
                "applied": dict(sorted(self.applied.items())),
                "applies": self.applies,
                "unavailable": dict(sorted(self.unavailable.items())),
                "damaged": dict(sorted(self.damaged.items())),
                "refused": self.refused,
                "limited": self.limited,
                "unsupported": self.unsupported,
            }
        )

    @classmethod
    def load(cls, text: str | None) -> ArchiveState:
        data = load_cursor(text)
        try:
            return cls(
                imported={str(q) for q in data.get("imported", [])},
                applied=_times(data.get("applied", {})),
                applies=[float(t) for t in data.get("applies", [])],
                unavailable=_times(data.get("unavailable", {})),
                damaged=_times(data.get("damaged", {})),
                refused=_moment(data.get("refused")),
                limited=_moment(data.get("limited")),
                unsupported=_moment(data.get("unsupported")),
            )
        except (TypeError, ValueError):
            logger.warning("unreadable archive cursor %r: starting over", str(text)[:80])
            return cls()


def _times(value: Any) -> dict[str, float]:
    return {str(quarter): float(at) for quarter, at in dict(value).items()}


def _moment(value: Any) -> float | None:
    return None if value is None else float(value)


class _LinkExpiredError(Exception):
    """The file's link no longer answers (OKX's links live 5.5 hours): apply again."""


def _followable(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.scheme == "http" and parts.hostname == "localhost"


class ArchiveStream(HistoryStream):
    """One OKX archive, a quarter at a time (see the module docstring)."""

    def __init__(
        self,
        connector: OkxConnector,
        archive: Archive,
        *,
        clock: Callable[[], float] = time.time,
        budget: int | None = None,
    ) -> None:
        self.connector = connector
        self.archive = archive
        self.key = archive.key
        self.kind = archive.kind
        self.clock = clock
        self.budget = APPLY_BUDGET[archive.name] if budget is None else budget
        self._visited: set[str] = set()
        self._applied_now: set[str] = set()

    # -- what is left ---------------------------------------------------------------------

    def quarters(self) -> list[str]:
        """Every complete quarter the archive offers, newest first."""
        current = _current(self.clock())
        first = max(self.archive.first(current), 2021 * 4)
        return [quarter_label(i) for i in range(current - 1, first - 1, -1)]

    def _left(self, state: ArchiveState) -> list[str]:
        now = self.clock()
        return [
            q
            for q in self.quarters()
            if q not in state.imported
            and now - state.unavailable.get(q, -DAY_S) >= DAY_S
            and now - state.damaged.get(q, -DAY_S) >= DAY_S
        ]

    def _can_apply(self, state: ArchiveState) -> bool:
        now = self.clock()
        state.applies = [t for t in state.applies if now - t < DAY_S]
        if state.limited is not None and now - state.limited < DAY_S:
            return False
        return len(state.applies) < self.budget

    def resting(self, cursor: str | None, written_at: datetime | None) -> bool:
        state = ArchiveState.load(cursor)
        for since in (state.refused, state.unsupported):
            if since is not None and self.clock() - since < DAY_S:
                return True
        left = self._left(state)
        return bool(left) and not state.applied and not self._can_apply(state)

    def progress(self, cursor: str | None) -> str | None:
        state = ArchiveState.load(cursor)
        left = self._left(state)
        if not left:
            return None
        total = len(self.quarters())
        done = total - len(left)
        parts = [f"OKX {self.archive.what}: {done} of {total} quarters imported"]
        if state.refused is not None:
            parts.append("OKX refused to prepare it for this key (asked again daily)")
        if state.unsupported is not None:
            parts.append("OKX does not offer it here (asked again daily)")
        damaged = [q for q in state.damaged if q not in state.imported]
        if damaged:
            parts.append(f"{len(damaged)} whose file was unreadable (downloaded again daily)")
        waiting = [q for q in left if q in state.applied]
        if waiting:
            parts.append(f"{len(waiting)} being prepared by OKX")
        queued = len(left) - len(waiting)
        if queued and state.refused is None and state.unsupported is None:
            if self._can_apply(state):
                parts.append(f"{queued} to apply for")
            else:
                parts.append(f"{queued} wait for the daily application limit ({self.budget})")
        return ", ".join(parts)

    # -- one step -------------------------------------------------------------------------

    async def next_page(self, cursor: str | None) -> HistoryPage:
        state = ArchiveState.load(cursor)
        requests = 0
        for quarter in self._left(state):
            if quarter in self._visited:
                continue
            self._visited.add(quarter)
            if quarter not in state.applied:  # never applied for: apply first (saves a poll)
                page = await self._apply(state, quarter, requests)
                if page is not None:
                    return page
                continue
            try:
                row = await self._status(quarter)
            except ExchangeUnsupportedError as exc:
                return self._unsupported(state, exc, requests + 1)
            except RateLimitedError:  # still so after the retries: poll on at the next sync
                logger.info("%s: polls rate limited; on at the next sync", self.archive.what)
                return HistoryPage([], state.dump(), done=True, requests=requests + 1)
            requests += 1
            state.unsupported = None
            if row.get("state") == "ongoing":
                continue
            if row.get("state") == "finished" and row.get("fileHref"):
                taken = await self._take(state, quarter, str(row["fileHref"]), requests + 1)
                if taken is not None:
                    return taken
            # no job at OKX, a failed one, or an expired link: apply again
            page = await self._apply(state, quarter, requests)
            if page is not None:
                return page
        return HistoryPage([], state.dump(), done=True, requests=requests)

    async def _take(
        self, state: ArchiveState, quarter: str, href: str, requests: int
    ) -> HistoryPage | None:
        """The quarter's page from its file; None when the link expired (apply again)."""
        try:
            records = await self._download(quarter, href)
        except _LinkExpiredError:
            logger.info("%s %s: the link expired", self.archive.what, quarter)
            return None
        except ExchangeResponseError as exc:  # damaged, cut short, unreadable rows
            state.damaged[quarter] = self.clock()  # the others go on; this one a day later
            return HistoryPage([], state.dump(), done=True, requests=requests, error=exc)
        state.imported.add(quarter)
        state.applied.pop(quarter, None)
        state.damaged.pop(quarter, None)
        return HistoryPage(records, state.dump(), done=False, requests=requests)

    async def _apply(self, state: ArchiveState, quarter: str, requests: int) -> HistoryPage | None:
        """Apply for ``quarter`` (none, failed, or an expired link); a page when state moved."""
        if quarter in self._applied_now or not self._can_apply(state):
            return None
        year, q = quarter.split("Q")
        apply, _ = self.archive.methods
        now = self.clock()
        try:
            answer = await self.connector.call(
                apply, {"year": year, "quarter": f"Q{q}"}, what=self.archive.what, retry=False
            )
        except ExchangeUnsupportedError as exc:
            return self._unsupported(state, exc, requests + 1)
        except PermissionDeniedError as exc:
            state.refused = now
            error = self._refusal(exc)
            return HistoryPage([], state.dump(), done=True, requests=requests + 1, error=error)
        except RateLimitedError:
            state.limited = now  # OKX's own daily count is spent (another client applied)
            return HistoryPage([], state.dump(), done=False, requests=requests + 1)
        except ExchangeError as exc:
            if exc.exchange_code not in ("51000", "50014"):
                raise
            logger.info("%s: OKX does not offer %s (%s)", self.archive.what, quarter, exc.message)
            state.unavailable[quarter] = now
            return HistoryPage([], state.dump(), done=False, requests=requests + 1)
        state.refused = None
        state.applies.append(now)
        state.applied[quarter] = now
        self._applied_now.add(quarter)
        rows = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(rows, list) and rows and str(rows[0].get("result")) == "true":
            self._visited.discard(quarter)  # prepared before: its new link is there now
        return HistoryPage([], state.dump(), done=False, requests=requests + 1)

    def _unsupported(
        self, state: ArchiveState, exc: ExchangeUnsupportedError, requests: int
    ) -> HistoryPage:
        """The archive is not offered here (HTTP 404, demo trading...): rest a day, no error."""
        logger.info("%s not offered for %s: %s", self.archive.what, self.connector.spec.name, exc)
        state.unsupported = self.clock()
        return HistoryPage([], state.dump(), done=True, requests=requests)

    def _refusal(self, exc: PermissionDeniedError) -> PermissionDeniedError:
        name = self.connector.spec.name
        error = PermissionDeniedError(
            f"OKX refused to prepare the {self.archive.what} for account '{name}' "
            f"(code {exc.exchange_code or '-'}): this read-only key may not apply for it.",
            hint=f"keyfolio only links read-only keys. Its 3-month history is still imported. "
            f"For older history, download OKX's bills and trade history files on okx.com and "
            f"import them: `keyfolio import csv FILE --account {name}` (zip or CSV). keyfolio "
            "asks OKX again once a day (docs/exchanges/okx.md, 'Older history: the quarterly "
            "archives').",
            exchange_code=exc.exchange_code,
        )
        error.__cause__ = exc
        return error

    # -- requests ---------------------------------------------------------------------------

    async def _status(self, quarter: str) -> dict[str, Any]:
        year, q = quarter.split("Q")
        _, method = self.archive.methods
        answer = await self.connector.call(
            method, {"year": year, "quarter": f"Q{q}"}, what=self.archive.what
        )
        rows = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ExchangeResponseError(f"OKX {self.archive.what}: not the JSON envelope.")
        return dict(rows[0]) if rows else {}

    async def _download(self, quarter: str, url: str) -> list[HistoryRecord]:
        if not _followable(url):
            raise ExchangeResponseError(
                f"OKX gave a {self.archive.what} link keyfolio does not follow "
                f"({urlsplit(url).scheme or 'no'} scheme, host {urlsplit(url).hostname}).",
                hint="keyfolio downloads archives over https only. Report this with the --debug "
                "output.",
            )
        data = await call_with_retries(
            lambda: self._fetch(url),
            retries=self.connector.settings.retries,
            base_delay=0.25,
            what=f"{self.archive.what} {quarter} download",
        )
        name = f"OKX {self.archive.what} {quarter}"
        hint = (
            "Nothing of this quarter was imported. The other quarters go on at the next sync; "
            "this one is downloaded again a day later. If it stays unreadable, report this "
            "with the --debug output."
        )
        try:
            _, rows, problems = read_table(decode_file(data, name=name))
        except ValueError as exc:
            raise ExchangeResponseError(f"{exc}.", hint=hint) from exc
        assets = AssetMap(self.connector.venue.id, self.connector.venue.asset_rules)
        records, bad = self.archive.format.parse(self.connector.spec.name, rows, assets)
        if problems or bad:
            raise ExchangeResponseError(
                f"{name} has rows keyfolio cannot read: {'; '.join([*problems, *bad][:5])}.",
                hint=hint,
            )
        logger.info("%s %s: %d records", self.archive.what, quarter, len(records))
        return list(records)

    async def _fetch(self, url: str) -> bytes:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.connector.settings.request_timeout_seconds * 30)
        host = urlsplit(url).hostname
        own = self.connector._session is None
        session = aiohttp.ClientSession() if own else self.connector._session
        assert session is not None
        try:
            async with session.get(url, timeout=timeout) as response:
                if response.status in (403, 404, 410):
                    raise _LinkExpiredError
                if response.status >= 400:
                    raise ExchangeUnavailableError(
                        f"OKX's file host {host} answered HTTP {response.status} to the "
                        f"{self.archive.what} download.",
                        exchange_code=f"HTTP {response.status}",
                    )
                data = await response.content.read(MAX_FILE_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ExchangeUnavailableError(
                f"The {self.archive.what} download from {host} failed: {type(exc).__name__}."
            ) from exc
        finally:
            if own:
                await finish_closing(session.close())
        if len(data) > MAX_FILE_BYTES:
            raise ExchangeResponseError(f"The {self.archive.what} file is larger than 1 GiB.")
        return bytes(data)


def archive_streams(connector: OkxConnector) -> list[ArchiveStream]:
    """The bills and fills archives of an OKX account."""
    return [ArchiveStream(connector, archive) for archive in ARCHIVES]
