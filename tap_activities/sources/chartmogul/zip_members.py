"""Which member of an export zip is the CSV: decided by what members hold, never by names.

ChartMogul's export zip holds one CSV. A member's name is only a label here: the tap
never writes a file by it (the CSV goes to a temporary file of the tap's own naming), so
a name that is empty, absolute, climbs with ``..``, ends in ``/``, holds a NUL, a
backslash or bytes of no known encoding, or stands twice, cannot send a byte anywhere
else, and does not decide which member is read. What does: a member that holds no bytes
(a directory entry, an empty file) carries no rows; a macOS resource fork (AppleDouble,
``__MACOSX/._name``) is metadata, known by its magic number; the one member left is the
CSV. Names still appear in messages, as short printable labels (:func:`label`).

A zip's directory is read whole into memory by ``zipfile``, a few hundred bytes per
member, so its size is checked first (:func:`check_directory`): a zip of millions of
empty members is refused before it is read, in bounded memory.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

from tap_activities.errors import DataFormatError, UnsafeArchiveError

MAX_DIRECTORY_BYTES = 1 << 20
"""The zip's central directory may take this much: one member needs 46 bytes plus its
name, so this allows thousands of members, or a few with names of the format's longest
(65,535 bytes); ChartMogul's export has one."""
MAX_LABEL = 80
"""Characters of a member's name that messages show."""
APPLE_DOUBLE = b"\x00\x05\x16\x07"
"""The magic number a macOS resource fork (AppleDouble) starts with."""
PEEKED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
"""Members whose first bytes are looked at: these decompress in bounded steps."""
MAX_PEEKED = 16

_END = b"PK\x05\x06"
_END_BYTES = 22
_END64_LOCATOR = b"PK\x06\x07"
_END64_LOCATOR_BYTES = 20
_END64 = b"PK\x06\x06"
_END64_BYTES = 56
_MAX_COMMENT = 0xFFFF
_ZIP64_PLACEHOLDER = 0xFFFFFFFF


def label(member: zipfile.ZipInfo, *, quoted: bool = False) -> str:
    """The member's name as a message shows it: short, printable, one line.

    Quoted as Python quotes a string where asked, and always where the name holds
    characters that do not print (escaped then) or spaces at its ends.
    """
    name = member.orig_filename  # before zipfile cut it at a NUL
    if not name:
        return "a member with no name"
    shown = name[:MAX_LABEL]
    more = f" ({len(name)} characters)" if len(name) > MAX_LABEL else ""
    if quoted or not shown.isprintable() or shown != shown.strip():
        return f"{shown!r}{more}"
    return f"{shown}{more}"


def directory_bytes(path: str | Path) -> int | None:
    """The largest size the zip's end records give its central directory (None: no record).

    ``zipfile`` reads that many bytes at once, and a few hundred more per member it finds
    in them. Its end record is found as ``zipfile`` finds it (the last 22 bytes, or the
    last signature within the file's last 64 KiB, where a comment may follow it); a ZIP64
    record, where the locator before it points, may override it. Every reading a version
    of ``zipfile`` could make is taken, and the largest counts (the end record's size
    only where it is not ZIP64's placeholder).
    """
    with open(path, "rb") as data:
        size = data.seek(0, 2)
        start = max(0, size - _END_BYTES - _MAX_COMMENT)
        data.seek(start)
        tail = data.read()
        ends = {tail.rfind(_END)}
        if tail[-_END_BYTES:].startswith(_END):
            ends.add(len(tail) - _END_BYTES)
        sizes = []
        for at in ends - {-1}:
            record = tail[at : at + _END_BYTES]
            if len(record) == _END_BYTES:
                (directory,) = struct.unpack_from("<I", record, 12)
                zip64 = _zip64_sizes(data, start + at)
                sizes.extend(zip64)
                if not zip64 or directory != _ZIP64_PLACEHOLDER:
                    sizes.append(directory)
    return max(sizes, default=None)


def _zip64_sizes(data: BinaryIO, end: int) -> list[int]:
    """Directory sizes of the ZIP64 record the locator before ``end`` points to.

    Read where ``zipfile`` assumes the record is (just before the locator) and where
    the locator says it is.
    """
    if end < _END64_LOCATOR_BYTES:
        return []
    data.seek(end - _END64_LOCATOR_BYTES)
    locator = data.read(_END64_LOCATOR_BYTES)
    if not locator.startswith(_END64_LOCATOR):
        return []
    sizes = []
    for at in {end - _END64_LOCATOR_BYTES - _END64_BYTES, struct.unpack_from("<Q", locator, 8)[0]}:
        if at >= 0:
            data.seek(at)
            record = data.read(_END64_BYTES)
            if len(record) == _END64_BYTES and record.startswith(_END64):
                sizes.append(struct.unpack_from("<Q", record, 40)[0])
    return sizes


def check_directory(path: str | Path, display_name: str) -> None:
    """Refuse a zip whose directory is larger than :data:`MAX_DIRECTORY_BYTES`."""
    size = directory_bytes(path)
    if size is not None and size > MAX_DIRECTORY_BYTES:
        msg = (
            f"{display_name}: refusing a zip whose directory takes {size} bytes (more than "
            f"{MAX_DIRECTORY_BYTES}): thousands of members, where ChartMogul's export holds "
            "one CSV"
        )
        raise UnsafeArchiveError(msg)


def names_not_utf8(display_name: str, exc: UnicodeDecodeError) -> UnsafeArchiveError:
    """The error for a member name flagged UTF-8 (general purpose bit 11) that is not."""
    msg = (
        f"{display_name}: refusing the zip: a member's name is marked as UTF-8 but is not "
        f"({exc.reason} at byte {exc.start}), so its directory cannot be read"
    )
    return UnsafeArchiveError(msg)


def csv_member(archive: zipfile.ZipFile, display_name: str) -> zipfile.ZipInfo | None:
    """The member holding the export's CSV; None when no member holds a byte (no rows).

    A zip with no member at all, or with several that hold data, is refused: which one
    is the export cannot be told.
    """
    members = archive.infolist()
    if not members:
        msg = f"{display_name}: expected one CSV file in the zip, found an empty zip"
        raise DataFormatError(msg)
    holding = [m for m in members if m.file_size > 0]
    if 1 < len(holding) <= MAX_PEEKED:
        holding = [m for m in holding if not _resource_fork(archive, m)]
    if len(holding) > 1:
        shown = ", ".join(label(m, quoted=True) for m in holding[:3])
        more = ", ..." if len(holding) > 3 else ""
        msg = (
            f"{display_name}: expected one CSV file in the zip, found {len(holding)} "
            f"members holding data ({shown}{more})"
        )
        raise DataFormatError(msg)
    return holding[0] if holding else None


def _resource_fork(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether ``member`` is a macOS resource fork (an AppleDouble file), by its bytes.

    Only members the tap would read are opened (stored or deflate, not encrypted); a
    member that cannot be read is not a fork, and is reported with the others.
    """
    if member.compress_type not in PEEKED_METHODS or member.flag_bits & 0x1:
        return False
    try:
        with archive.open(member) as data:
            return data.read(len(APPLE_DOUBLE)) == APPLE_DOUBLE
    except Exception:  # any damage: not a fork; reading the member words the error
        return False
