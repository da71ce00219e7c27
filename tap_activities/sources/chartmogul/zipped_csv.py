"""Typed rows out of a ChartMogul activities export zip, streamed, never the whole file.

The zip's one CSV is extracted to a file (:func:`extract_csv`), then read in one pass
(:func:`iter_csv_rows`) or cut into ranges of whole rows (:func:`row_ranges`) that worker
processes type and frame in parallel (:func:`frame_csv_range`).

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
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tap_activities.errors import CorruptDownloadError, DataFormatError, UnsafeArchiveError
from tap_activities.records.contract import NULL, STRING, FieldTypes
from tap_activities.records.framing import Framing, frame_records
from tap_activities.records.spooled import BlockMeta, spool_blocks
from tap_activities.sources.chartmogul import zip_members
from tap_activities.transfer.spool import Handoff

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
EXTRACT_BYTES = 1 << 20
HEADER_BYTES = 1 << 16
RANGE_BYTES = 2 << 20
"""Rows are handed to worker processes in ranges of about this many bytes."""
MAX_CUT_TRIES = 64
MAX_UNCOMPRESSED_BYTES = 50 * 2**30
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")
csv.field_size_limit(64 * 2**20)


MONEY_HINT = " (money is whole cents: ASCII digits within a 64-bit integer)"


class CsvRowError(DataFormatError):
    """A row of the export CSV is malformed."""


def normalise_column(name: str) -> str:
    """``activity-mrr-movement``/``Customer Name``/``customerUuid`` → snake_case."""
    name = name.replace("\ufeff", "").strip()
    return _NON_WORD.sub("_", _CAMEL.sub("_", name)).strip("_").lower()


INTEGER_RANGE = range(-(2**63), 2**63)
"""Money cells loaders can store: whole cents in a signed 64-bit integer (BIGINT)."""


def _integer(value: str) -> int:
    """A money cell: ASCII digits only (``int`` would take "1_000", " 5" or Arabic digits)."""
    digits = value[1:] if value[:1] == "-" else value
    # On an ASCII string isdigit() takes 0-9 only; both checks run in C.
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(value)
    number = int(value)
    if len(digits) > 18 and number not in INTEGER_RANGE:
        raise ValueError(value)
    return number


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


def _csv_member(archive: zipfile.ZipFile, display_name: str) -> zipfile.ZipInfo | None:
    """The member holding the CSV (:func:`zip_members.csv_member`), unless it looks a bomb."""
    member = zip_members.csv_member(archive, display_name)
    if member is None:
        return None
    ratio = member.file_size / max(1, member.compress_size)
    if ratio > MAX_COMPRESSION_RATIO or member.file_size > MAX_UNCOMPRESSED_BYTES:
        name = zip_members.label(member, quoted=True)
        msg = (
            f"{display_name}: refusing {name}: {member.file_size} bytes from "
            f"{member.compress_size} compressed (ratio {ratio:.0f}) looks like a zip bomb"
        )
        raise UnsafeArchiveError(msg)
    return member


def extract_csv(path: str | Path, out: BinaryIO, display_name: str = "export zip") -> str:
    """Check the zip and write its one CSV out, decompressed; return the CSV's label.

    One streaming pass (flat memory): the member's CRC is checked as it is read, so a
    damaged download is found here, in the download worker, before any row is emitted.
    Whatever the zip holds ends in this module's errors, each naming the file: a damaged
    zip (bad CRC, cut short, a broken deflate stream) in :class:`CorruptDownloadError`,
    fetched again; what the tap will not read (encryption, a method other than stored or
    deflate, a ratio or a directory that looks like a bomb, names that break the zip's
    own encoding flag) in :class:`UnsafeArchiveError`. The member is the one that holds
    data (:mod:`.zip_members`), whatever its name; a zip whose members hold nothing is an
    empty CSV.
    """
    zip_members.check_directory(path, display_name)
    try:
        archive = zipfile.ZipFile(path)
    except UnicodeDecodeError as exc:
        raise zip_members.names_not_utf8(display_name, exc) from None
    except ZIP_ERRORS as exc:
        raise _corrupt(display_name, exc) from None
    with archive:
        member = _csv_member(archive, display_name)
        if member is None:
            out.flush()
            return "no member holds data"
        _check_readable(member, display_name)
        try:
            data = archive.open(member)
        except UnicodeDecodeError as exc:
            raise zip_members.names_not_utf8(display_name, exc) from None
        except ZIP_ERRORS as exc:
            raise _corrupt(display_name, exc) from None
        with data:
            while True:
                try:
                    # Stored and deflate members decompress at most this much per read
                    # (zipfile bounds deflate's output), up to the declared size.
                    chunk = data.read(EXTRACT_BYTES)
                except ZIP_ERRORS as exc:
                    raise _corrupt(display_name, exc) from None
                if not chunk:
                    break
                out.write(chunk)
    out.flush()
    return zip_members.label(member)


ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
"""The compression methods read. ChartMogul's exports are deflate; zipfile decompresses
bzip2 and lzma a whole compressed chunk at a time, unbounded (a 2 KB bzip2 member becomes
gigabytes in one call), so those and every other method are refused, not streamed."""
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    IndexError,
    KeyError,
)
"""What zipfile raises on damaged bytes (read errors of the local file included)."""


def _check_readable(member: zipfile.ZipInfo, display_name: str) -> None:
    """Refuse a member the tap will not decompress: encrypted, or not stored/deflate."""
    if member.flag_bits & 0x1:
        msg = f"{display_name}: refusing {zip_members.label(member, quoted=True)}: it is encrypted"
        raise UnsafeArchiveError(msg)
    if member.compress_type not in ZIP_METHODS:
        name = _METHOD_NAMES.get(member.compress_type, "an unknown method")
        msg = (
            f"{display_name}: refusing {zip_members.label(member, quoted=True)}: compressed "
            f"with {name} (zip method {member.compress_type}); ChartMogul's exports are "
            "deflate, and the tap reads only stored and deflate members"
        )
        raise UnsafeArchiveError(msg)


_METHOD_NAMES = {
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
    9: "deflate64",
    93: "zstandard",
    95: "xz",
    98: "ppmd",
    99: "AES encryption",
}


def _corrupt(display_name: str, exc: BaseException) -> CorruptDownloadError:
    detail = " ".join(str(exc).split())[:120] or type(exc).__name__
    return CorruptDownloadError(f"{display_name}: corrupt zip ({detail})")


def iter_csv_rows(path: str | Path, *, where: str) -> Iterator[dict[str, Any]]:
    """Yield typed rows of an extracted export CSV, in file order."""
    with open(path, "rb") as data:
        yield from _rows(csv.reader(_text_lines(data, where), strict=True), where)


def _text_lines(lines: Iterable[bytes], where: str) -> Iterator[str]:
    """The file's lines as text, each decoded alone so that an error names its line.

    (A text file decodes ahead in blocks: an invalid byte in row 1 read as an unreadable
    header.) A line with a NUL character is refused: Python's csv module takes it as
    text, and no loader stores it (PostgreSQL refuses it in text and jsonb); a CSV
    export holding one is damaged, or not text at all.
    """
    encoding = "utf-8-sig"  # a byte order mark may open the file
    for number, line in enumerate(lines, 1):
        if b"\x00" in line:
            msg = f"{where}: line {number} holds a NUL character, which is not CSV text"
            raise CsvRowError(msg)
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as exc:
            msg = f"{where}: line {number} is not UTF-8 ({exc.reason} at byte {exc.start})"
            raise CsvRowError(msg) from None
        encoding = "utf-8"


def read_header(path: str | Path) -> tuple[int, list[str]] | None:
    """``(offset of the first data row, header cells)``, or None if the header is odd.

    None (a header over several lines, or none at all) means: read the file in one pass.
    """
    with open(path, "rb") as data:
        head = data.read(HEADER_BYTES)
    end = head.find(b"\n")
    if end < 0 or b'"' in head[:end]:
        return None
    try:
        cells = next(csv.reader([head[: end + 1].decode("utf-8-sig")], strict=True))
    except (csv.Error, UnicodeDecodeError, StopIteration):
        return None
    return end + 1, cells


def row_ranges(path: str | Path, start: int, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Cut the file from ``start`` into byte ranges of about ``size``, each whole rows.

    A range ends after a newline preceded by an even number of quote characters: in
    well-formed CSV that newline is outside any quoted field (inside one, quotes come in
    pairs after the opening one). A stray quote can still fool this; the range it spoils
    then fails to parse, and :func:`frame_csv_range`'s caller reads the file in one pass.
    """
    size = size or RANGE_BYTES
    quotes = 0  # quote characters before ``offset``
    offset = start
    with open(path, "rb") as data:
        data.seek(start)
        while block := data.read(size):
            cut = len(block)
            for _ in range(MAX_CUT_TRIES):
                cut = block.rfind(b"\n", 0, cut)
                if cut < 0 or (quotes + block.count(b'"', 0, cut)) % 2 == 0:
                    break
            else:
                cut = -1  # no even newline near the end: this range runs on
            quotes += block.count(b'"')
            if cut >= 0:
                yield start, offset + cut + 1
                start = offset + cut + 1
            offset += len(block)
    if offset > start:
        yield start, offset


@dataclass(frozen=True)
class CsvRange:
    """Rows ``path[start:end]`` of an extracted export CSV, as one worker's task."""

    path: str
    start: int
    end: int
    header: list[str]
    fields: tuple[str, ...]
    """Schema fields: those a row lacks are null."""
    framing: Framing
    directory: str | None
    """Where the spool goes."""


def frame_csv_range(task: CsvRange) -> Handoff[BlockMeta]:
    """Worker: the task's rows, typed, null-filled and framed, in a spool.

    Module-level, so that a worker process can run it. A malformed row raises
    :class:`CsvRowError` (its numbers are relative to the range: the caller reads the
    whole file again for the authoritative message).
    """
    with open(task.path, "rb") as data:
        data.seek(task.start)
        raw = data.read(task.end - task.start)
    if b"\x00" in raw:  # the one pass words it, with its line number
        msg = f"rows at byte {task.start}: a NUL character"
        raise CsvRowError(msg)
    # Decoded as the reader goes (a whole range as one str takes up to 4 bytes a byte).
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline="")
    rows = _data_rows(csv.reader(text, strict=True), task.header, f"rows at byte {task.start}")
    unknown = unknown_columns(task.header, task.fields)
    blocks = frame_records(rows, task.fields, task.framing, None, unknown)
    return spool_blocks(blocks, task.directory).handoff()


def unknown_columns(header: list[str] | None, fields: Iterable[str]) -> FieldTypes | None:
    """The header's columns the schema does not list, as nullable strings (CSV has no types)."""
    known = set(fields)
    unknown = {
        name: STRING | NULL
        for name in (normalise_column(cell) for cell in header or ())
        if name not in known
    }
    return unknown or None


def read_columns(path: str | Path) -> list[str] | None:
    """The header's cells, however the header is written (None: the file is empty)."""
    with open(path, encoding="utf-8-sig", newline="") as text:
        try:
            return next(csv.reader(text, strict=True), None)
        except (csv.Error, UnicodeDecodeError):
            return None  # reading the rows words the error


def _csv_detail(exc: Exception) -> str:
    """The csv module's complaint, in words a user can act on.

    Its "unexpected end of data" means a quote opened and never closed.
    """
    detail = " ".join(str(exc).split())[:120]
    if detail == "unexpected end of data":
        return "a quoted field is not closed before the end of the file"
    return detail


def _rows(reader: Any, where: str) -> Iterator[dict[str, Any]]:
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        msg = f"{where}: unreadable header ({_csv_detail(exc)})"
        raise CsvRowError(msg) from None
    if not header:
        return
    yield from _data_rows(reader, header, where)


def _refuse_twice(header: list[str], columns: list[str], where: str) -> None:
    """Refuse a header whose columns name one field twice (``Customer Name``, ``customer-name``).

    A record keeps one value per field: the other column's cells would be lost silently.
    """
    seen: dict[str, str] = {}
    for cell, column in zip(header, columns, strict=True):
        if column in seen:
            msg = (
                f"{where}: the header's columns {seen[column][:60]!r} and {cell[:60]!r} both "
                f"name the field {column[:60]!r}; the file is refused rather than one lost"
            )
            raise CsvRowError(msg)
        seen[column] = cell


def _data_rows(reader: Any, header: list[str], where: str) -> Iterator[dict[str, Any]]:
    columns = [normalise_column(name) for name in header]
    _refuse_twice(header, columns, where)
    converters = [(i, name, _converter(name)) for i, name in enumerate(columns)]
    width = len(columns)
    row_number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            detail = _csv_detail(exc)
            msg = f"{where}: row {row_number + 1} (line {reader.line_num}) is malformed ({detail})"
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
                    hint = MONEY_HINT if name in MONEY_COLUMNS else ""
                    msg = (
                        f"{where}: row {row_number} (line {reader.line_num}) column "
                        f"{header[index]!r} has an invalid value {value[:40]!r}{hint}"
                    )
                    raise CsvRowError(msg) from None
        yield record
