"""Stream typed rows out of a ChartMogul activities export zip, never the whole file.

The CSV's columns are undocumented, so the header is read at run time and normalised to
snake_case (``activity-mrr-movement`` → ``activity_mrr_movement``). Known columns are typed
(money as integer cents, ``date`` as an ISO 8601 date-time in UTC); unknown columns pass
through as strings. Empty cells become ``null``. A malformed row stops the sync with its
row number and the file's name: a silently skipped row is a lost record.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from tap_activities.errors import CorruptDownloadError, DataFormatError, UnsafeArchiveError

MONEY_COLUMNS = ("activity_mrr_movement", "activity_mrr", "activity_arr")
KNOWN_COLUMNS: dict[str, dict[str, Any]] = {
    "uuid": {"type": ["string"]},
    "date": {"type": ["string", "null"], "format": "date-time"},
    **{name: {"type": ["integer", "null"]} for name in MONEY_COLUMNS},
    **{
        name: {"type": ["string", "null"]}
        for name in (
            "type",
            "description",
            "currency",
            "subscription_external_id",
            "plan_external_id",
            "customer_name",
            "customer_uuid",
            "customer_external_id",
            "billing_connector_uuid",
        )
    },
}
MAX_COMPRESSION_RATIO = 200
MAX_UNCOMPRESSED_BYTES = 50 * 2**30
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")
csv.field_size_limit(64 * 2**20)


class CsvRowError(DataFormatError):
    """A row of the export CSV is malformed."""


def normalise_column(name: str) -> str:
    """``activity-mrr-movement``/``Customer Name``/``customerUuid`` → snake_case."""
    name = name.replace("\ufeff", "").strip()
    return _NON_WORD.sub("_", _CAMEL.sub("_", name)).strip("_").lower()


def _integer(value: str) -> int:
    return int(value)


def _date_time(value: str) -> str:
    if len(value) == 25 and value[10] == "T" and value.endswith("+00:00"):
        # Already what isoformat() would give back (ChartMogul's usual spelling): only
        # checked, which costs a tenth of parsing and formatting it again.
        dt.datetime.fromisoformat(value)
        return value
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat()


def _converter(column: str) -> Callable[[str], Any] | None:
    if column in MONEY_COLUMNS:
        return _integer
    if column == "date":
        return _date_time
    return None


def _csv_member(archive: zipfile.ZipFile, display_name: str) -> zipfile.ZipInfo:
    members = [
        m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
    ]
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in member.filename:
            msg = f"{display_name}: refusing zip entry with an unsafe path {member.filename!r}"
            raise UnsafeArchiveError(msg)
    csvs = [m for m in members if m.filename.lower().endswith(".csv")] or members
    if len(csvs) != 1:
        msg = f"{display_name}: expected one CSV file in the zip, found {len(csvs)}"
        raise DataFormatError(msg)
    member = csvs[0]
    ratio = member.file_size / max(1, member.compress_size)
    if ratio > MAX_COMPRESSION_RATIO or member.file_size > MAX_UNCOMPRESSED_BYTES:
        msg = (
            f"{display_name}: refusing {member.filename!r}: {member.file_size} bytes from "
            f"{member.compress_size} compressed (ratio {ratio:.0f}) looks like a zip bomb"
        )
        raise UnsafeArchiveError(msg)
    return member


def verify_zip(path: str | Path, display_name: str = "export zip") -> None:
    """Read the whole zip once to check its structure and CRCs (streaming, flat memory)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _csv_member(archive, display_name)
            with archive.open(member) as data:
                while data.read(1 << 20):
                    pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        msg = f"{display_name}: corrupt zip ({exc})"
        raise CorruptDownloadError(msg) from None


def iter_activity_rows(path: str | Path, *, display_name: str) -> Iterator[dict[str, Any]]:
    """Yield typed rows of the export's CSV, in file order."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _csv_member(archive, display_name)
            where = f"{display_name} ({member.filename})"
            with archive.open(member) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                yield from _rows(csv.reader(text, strict=True), where)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        msg = f"{display_name}: corrupt zip ({exc})"
        raise CorruptDownloadError(msg) from None


def _rows(reader: Any, where: str) -> Iterator[dict[str, Any]]:
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        msg = f"{where}: unreadable header ({exc})"
        raise CsvRowError(msg) from None
    if not header:
        return
    columns = [normalise_column(name) for name in header]
    converters = [(i, name, _converter(name)) for i, name in enumerate(columns)]
    width = len(columns)
    row_number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            msg = f"{where}: row {row_number + 1} (line {reader.line_num}) is malformed ({exc})"
            raise CsvRowError(msg) from None
        row_number += 1
        if not cells:
            continue  # a blank line carries no activity
        if len(cells) != width:
            msg = (
                f"{where}: row {row_number} (line {reader.line_num}) has {len(cells)} "
                f"fields, the header has {width}"
            )
            raise CsvRowError(msg)
        record: dict[str, Any] = {}
        for index, name, convert in converters:
            value = cells[index]
            if value == "":
                record[name] = None
            elif convert is None:
                record[name] = value
            else:
                try:
                    record[name] = convert(value)
                except ValueError:
                    msg = (
                        f"{where}: row {row_number} (line {reader.line_num}) column "
                        f"{header[index]!r} has an invalid value {value[:40]!r}"
                    )
                    raise CsvRowError(msg) from None
        yield record
