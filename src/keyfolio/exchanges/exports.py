"""The exchanges' own CSV exports: how a venue declares the files it produces, and how one is read.

A first-class venue names a module in ``VenueInfo.exports`` (``keyfolio.exchanges.okx_exports``)
that defines ``FORMATS``, a tuple of :class:`ExportFormat`. ``keyfolio import csv`` recognises a
file by its header: each format lists the columns it requires (compared case-insensitively), and
the most specific format whose columns are all there reads the file. Adding a venue's exports is
one module and one field in its ``VENUE``; nothing in services or the CLI changes.

A format turns the file's rows into history records **with the exchange's own ids** (OKX:
``instId:tradeId`` for a fill, the ``billId`` for a bill), the ids the API import gives the same
records, so a record is stored once whichever way it came. A format whose rows carry no id
(Binance's trade history) sets ``content_ids``: its trades get an ``export:`` id from their content
and are matched to API trades by content instead (same pair, side, amount, price and second).

Files may be given as downloaded: a zip holding one CSV, a gzip'd CSV, or plain CSV
(:func:`decode_file`).
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import LedgerEntry, Trade, Transfer

if TYPE_CHECKING:
    from keyfolio.exchanges.venue import VenueInfo

__all__ = [
    "MAX_FILE_BYTES",
    "ExportFormat",
    "ExportRecord",
    "Row",
    "decode_file",
    "export_formats",
    "normalise",
    "read_table",
]

MAX_FILE_BYTES = 1 << 30
"""The largest file (after decompression) keyfolio reads: 1 GiB."""

ExportRecord = Trade | Transfer | LedgerEntry
Row = tuple[int, Mapping[str, str]]
"""One data row: its line number in the file (the header is line 1) and its fields by the
header's names, normalised (:func:`normalise`)."""

Parser = Callable[[str, Sequence[Row], AssetMap], tuple[list[ExportRecord], list[str]]]
"""``parse(account, rows, assets)`` -> (records, problems); each problem names its line
(``line 7: ...``). The whole file is parsed at once: some formats pair rows (two bills per
trade)."""


def normalise(name: str) -> str:
    """A header name as formats compare it: no BOM, no outer spaces, lower case."""
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class ExportFormat:
    """One file a venue produces: its name, the columns that identify it, its parser."""

    venue: str
    """The venue id (``okx``); the file is imported into an account of that venue or a manual
    one."""
    name: str
    """What the user calls the file, e.g. ``OKX fills (trade history)``."""
    required: frozenset[str]
    """Normalised header names that must all be present."""
    parse: Parser
    optional: frozenset[str] = field(default_factory=frozenset)
    """Further columns the parser reads (documented; any other column is ignored)."""
    content_ids: bool = False
    """Rows carry no exchange id: trades are matched to stored ones by content."""

    def matches(self, header: Sequence[str]) -> bool:
        return self.required <= set(header)


def decode_file(data: bytes, *, name: str) -> str:
    """The text of a downloaded export: a zip's single CSV, a gzip'd CSV, or the bytes as UTF-8.

    Raises ``ValueError`` naming the problem (not a CSV, too large, cut short, not UTF-8).
    """
    try:
        data = _unpack(data, name=name)
    except (zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        kind = "zip" if data.startswith(b"PK") else "gzip"
        raise ValueError(
            f"{name}: the {kind} file is damaged or cut short ({exc or type(exc).__name__})"
        ) from None
    except (NotImplementedError, RuntimeError) as exc:  # zipfile: unknown method, encrypted
        raise ValueError(f"{name}: the zip file cannot be read ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text") from None


def _unpack(data: bytes, *, name: str) -> bytes:
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            csvs = [m for m in members if m.filename.lower().endswith(".csv")] or members
            if len(csvs) != 1:
                raise ValueError(f"{name}: the zip file holds {len(csvs)} files, not one CSV")
            if csvs[0].file_size > MAX_FILE_BYTES:
                raise ValueError(f"{name}: the CSV in the zip file is larger than 1 GiB")
            data = archive.read(csvs[0])
    elif data.startswith(b"\x1f\x8b"):
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            data = unpacked.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: the gzip'd CSV is larger than 1 GiB")
    return data


def read_table(text: str) -> tuple[list[str], list[Row], list[str]]:
    """(normalised header, data rows, problems) of a CSV text. Blank lines are skipped; a row
    with more or fewer fields than the header has is a problem (``line 4: more fields than
    columns``): exchanges write every field, so a short row is a file cut short."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    rows: list[Row] = []
    problems: list[str] = []
    try:
        header = [normalise(name) for name in next(reader, [])]
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue
            if len(fields) != len(header):
                more = "more" if len(fields) > len(header) else "fewer"
                problems.append(
                    f"line {reader.line_num}: {more} fields ({len(fields)}) than columns "
                    f"({len(header)})" + ("; is the file cut short?" if more == "fewer" else "")
                )
                continue
            rows.append((reader.line_num, dict(zip(header, fields, strict=True))))
    except csv.Error as exc:  # a field over the csv module's limit
        problems.append(f"line {reader.line_num}: {exc}")
    return header, rows, problems


def _formats_of(info: VenueInfo) -> tuple[ExportFormat, ...]:
    if info.exports is None:
        return ()
    formats = importlib.import_module(info.exports).FORMATS
    assert all(isinstance(f, ExportFormat) for f in formats)
    return tuple(formats)


def export_formats() -> list[ExportFormat]:
    """Every first-class venue's export formats, in the venues' order."""
    from keyfolio.exchanges.venues import first_class

    return [fmt for info in first_class() for fmt in _formats_of(info)]
