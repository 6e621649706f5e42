"""``keyfolio import csv``: keyfolio's own trade format, or an exchange's own export file.

The file's header decides (docs/import.md):

* keyfolio's format (``time,pair,side,amount,price[,fee,fee_asset,trade_id]``): trades with
  ``csv:`` ids made from the ``trade_id`` column or from the row's content;
* an exchange's export (OKX fills and bills, Binance's trade history...): recognised by its
  columns through the venues' own export modules (:mod:`keyfolio.exchanges.exports`). Its
  records keep the exchange's ids, so they are stored once whatever way they came: from this file,
  from the API import, or from the OKX archive. Rows without an id (Binance) are matched to the
  stored exchange trades by content.

Either way the file is imported in **one transaction**: if any row is bad, every bad row is
reported with its line number and nothing is imported. Zip and gzip files are read as they are.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyfolio.domain.history import CONTENT_ID_PREFIX, HistoryKind, LedgerEntry, Trade, Transfer
from keyfolio.domain.money import BOUNDS_HINT, AmountError
from keyfolio.errors import UsageError
from keyfolio.services.context import App
from keyfolio.services.imports import MANUAL_EXCHANGE, describe_counts, recheck
from keyfolio.services.manual import trade_from_fields

if TYPE_CHECKING:
    from keyfolio.domain.accounts import AccountSpec
    from keyfolio.exchanges.exports import ExportFormat, ExportRecord
    from keyfolio.storage import Store

__all__ = ["CSV_COLUMNS", "CsvReport", "import_csv", "parse_trades_csv", "recognised_exports"]

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("time", "pair", "side", "amount", "price", "fee", "fee_asset", "trade_id")
_REQUIRED = CSV_COLUMNS[:5]
_CSV_HINT = (
    "Fix the rows listed and import the file again; nothing was imported. The format is "
    "described in docs/import.md (columns: time,pair,side,amount,price[,fee,fee_asset,trade_id])."
)
_MAX_SHOWN = 50


@dataclass(frozen=True)
class CsvReport:
    """What a CSV import did: the format read, rows read, and what was new."""

    account: str
    rows: int
    new: int
    """New trades."""
    created_account: bool = False
    format: str = "keyfolio CSV"
    new_by_kind: dict[HistoryKind, int] = field(default_factory=dict)
    matched: int = 0
    """Export trades without an id found stored already (the same fill from the API)."""

    def summary(self) -> str:
        """The new records in words (``2 trades, 40 ledger entries``), or ``nothing new``."""
        return describe_counts({k.value: v for k, v in self.new_by_kind.items()}) or "nothing new"


def recognised_exports() -> list[str]:
    """The names of the exchange exports ``keyfolio import csv`` recognises."""
    from keyfolio.exchanges.exports import export_formats

    return [fmt.name for fmt in export_formats()]


def _read(path: Path) -> str:
    from keyfolio.exchanges.exports import decode_file

    try:
        data = Path(path).read_bytes()
        return decode_file(data, name=str(path))
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}",
            hint="Give the path of a CSV file (UTF-8; zip or gzip files are read too).",
        ) from None
    except ValueError as exc:
        raise UsageError(
            f"cannot read {exc}",
            hint="Nothing was imported. Give a UTF-8 CSV file, or the zip or gzip file as the "
            "exchange served it; a damaged or cut-short download must be downloaded again.",
        ) from None


def _empty_error() -> UsageError:
    return UsageError(
        "the CSV file is empty",
        hint="Start it with the header line time,pair,side,amount,price (optional: fee, "
        "fee_asset, trade_id); see docs/import.md.",
    )


def parse_trades_csv(text: str, *, account: str) -> list[Trade]:
    """Every row of a keyfolio trades CSV as a Trade; ``UsageError`` listing every bad row."""
    if not text.lstrip("\ufeff").strip():
        raise _empty_error()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in _REQUIRED if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if missing or unknown:
        problems = [f"missing column(s): {', '.join(missing)}"] if missing else []
        problems += [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
        exports = "; ".join(recognised_exports())
        raise UsageError(
            "line 1 (header): " + "; ".join(problems),
            hint=_CSV_HINT + f" Exchange exports recognised by their columns: {exports}.",
        )
    reader.fieldnames = header
    trades: list[Trade] = []
    problems = []
    out_of_bounds = False
    seen: Counter[tuple[str, ...]] = Counter()
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"line {line}: more fields than columns")
            continue
        fields = {key: (value or "").strip() for key, value in row.items() if key is not None}
        if not any(fields.values()):
            continue  # a blank line
        short = [name for name in _REQUIRED if name in header and row.get(name) is None]
        if short:
            problems.append(f"line {line}: missing field(s): {', '.join(short)}")
            continue
        content = tuple(fields.get(name, "") for name in CSV_COLUMNS)
        try:
            trades.append(
                trade_from_fields(account, fields, origin="csv", occurrence=seen[content])
            )
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            out_of_bounds = out_of_bounds or (isinstance(exc, AmountError) and exc.out_of_bounds)
        seen[content] += 1
    if problems:
        raise UsageError(
            f"{len(problems)} bad row(s) in the CSV file:\n" + "\n".join(problems),
            hint=_CSV_HINT + (" " + BOUNDS_HINT if out_of_bounds else ""),
        )
    return trades


def _export_format(header: list[str]) -> ExportFormat | None:
    """The most specific export whose columns are all in ``header`` (None: keyfolio's own)."""
    from keyfolio.exchanges.exports import export_formats

    if set(header) <= set(CSV_COLUMNS):
        return None
    found = [fmt for fmt in export_formats() if fmt.matches(header)]
    return max(found, key=lambda fmt: len(fmt.required)) if found else None


def _check_venue(spec: AccountSpec, fmt: ExportFormat) -> None:
    from keyfolio.exchanges.venues import venue_info

    info = venue_info(spec.exchange)
    if spec.exchange == MANUAL_EXCHANGE or (info is not None and info.id == fmt.venue):
        return
    owner = venue_info(fmt.venue)
    venue = owner.name if owner is not None else fmt.venue
    account_venue = info.name if info is not None else spec.exchange
    raise UsageError(
        f"this file is the export '{fmt.name}', and account {spec.name!r} is an account of "
        f"{account_venue}, not of {venue}",
        hint=f"Import it into the {venue} account it came from (--account NAME), or into a "
        "manual account, which is created with `keyfolio trade add` or `keyfolio holding add`.",
    )


def _content_key(trade: Trade) -> tuple[Any, ...]:
    at = trade.at.replace(microsecond=0)
    return (trade.base, trade.quote, trade.side.value, trade.amount, trade.price, at)


def _unmatched(store: Store, account: str, trades: list[Trade]) -> tuple[list[Trade], int]:
    """Export trades without ids, less those whose fill the account holds already (the
    exchange's record of the same pair, side, amount, price and second), one for one."""
    stored = Counter(
        _content_key(t)
        for t in store.history.trades(accounts=[account])
        if not t.trade_id.startswith(CONTENT_ID_PREFIX)
    )
    kept: list[Trade] = []
    for trade in trades:
        key = _content_key(trade)
        if stored[key] > 0:
            stored[key] -= 1
            continue
        kept.append(trade)
    return kept, len(trades) - len(kept)


def _parse_export(
    app: App, fmt: ExportFormat, spec: AccountSpec, text: str
) -> tuple[list[ExportRecord], int]:
    """The file's records (trades marked ``export``) and its number of rows."""
    from keyfolio.domain.assets import AssetMap
    from keyfolio.exchanges.exports import read_table
    from keyfolio.exchanges.venues import venue_info
    from keyfolio.services.assets import overrides

    _, rows, problems = read_table(text)
    info = venue_info(fmt.venue)
    assert info is not None
    assets = AssetMap(info.id, info.asset_rules, overrides=overrides(app).get(info.id))
    records, bad = fmt.parse(spec.name, rows, assets)
    problems = sorted([*problems, *bad], key=lambda p: int(p.split(":")[0].split()[-1]))
    if problems:
        shown = problems[:_MAX_SHOWN]
        more = len(problems) - len(shown)
        raise UsageError(
            f"{len(problems)} bad row(s) in the {fmt.name} file:\n"
            + "\n".join(shown)
            + (f"\n... and {more} more" if more else ""),
            hint="Nothing was imported. The file does not look as the exchange writes it; the "
            "columns keyfolio reads are in docs/import.md.",
        )
    if not rows:
        raise UsageError(
            f"the {fmt.name} file has a header but no rows",
            hint="Export a period that has trades or bills in it.",
        )
    marked = [replace(r, origin="export") if isinstance(r, Trade) else r for r in records]
    return marked, len(rows)


def import_csv(app: App, path: Path, *, account: str) -> CsvReport:
    """Import a CSV file (keyfolio's format or an exchange's export) into an existing account,
    all or nothing."""
    from keyfolio.exchanges.exports import read_table

    text = _read(path)
    if not text.strip():
        raise _empty_error()
    header = read_table(text.split("\n", 1)[0])[0]
    fmt = _export_format(header)
    with app.db().session() as store:
        spec = store.get_account(name=account)
        if fmt is None:
            trades = parse_trades_csv(text, account=account)
            new = store.history.add_trades(trades)
            recheck(store, account)  # the file may name markets the API walks did not know
            logger.info("imported %s into %s: %d rows, %d new", path, account, len(trades), new)
            return CsvReport(account, len(trades), new, new_by_kind={HistoryKind.TRADES: new})
        _check_venue(spec, fmt)
        records, rows = _parse_export(app, fmt, spec, text)
        trades = [r for r in records if isinstance(r, Trade)]
        matched = 0
        if fmt.content_ids:
            trades, matched = _unmatched(store, account, trades)
        history = store.history
        added = {
            HistoryKind.TRADES: history.add_trades(trades),
            HistoryKind.DEPOSITS: history.add_transfers(
                [r for r in records if isinstance(r, Transfer) and r.kind.value == "deposit"]
            ),
            HistoryKind.WITHDRAWALS: history.add_transfers(
                [r for r in records if isinstance(r, Transfer) and r.kind.value == "withdrawal"]
            ),
            HistoryKind.LEDGER: history.add_ledger(
                [r for r in records if isinstance(r, LedgerEntry)]
            ),
        }
        recheck(store, account)  # the export may name markets the API walks did not know
    logger.info("imported %s (%s) into %s: %d rows, %s", path, fmt.name, account, rows, added)
    return CsvReport(
        account,
        rows,
        added[HistoryKind.TRADES],
        format=fmt.name,
        new_by_kind={kind: count for kind, count in added.items() if count},
        matched=matched,
    )
