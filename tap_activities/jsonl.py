"""Streaming JSON Lines parsing with line numbers in every error.

A downloaded part is checked line by line before any of its records is emitted
(:func:`check_json_lines`, run in the download worker), because a broken line usually
means a damaged transfer: the part is fetched again instead of being emitted half.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from tap_activities.errors import ConfigError, DataFormatError, MalformedPartError


def iter_json_lines(
    path: Path, *, where: str, error: type[DataFormatError] = DataFormatError
) -> Iterator[dict[str, Any]]:
    """Yield one dict per line of a JSONL file, reading it line by line.

    Args:
        path: The file, as downloaded.
        where: What the file is (stream, window, part) for error messages.
        error: The error class raised for a malformed line.

    Raises:
        DataFormatError: A line is not a JSON object; the message gives its line number.
    """
    loads = orjson.loads
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = None
            if type(record) is not dict:
                # Blank (skipped) or malformed: _decode_line decides and words the error.
                record = _decode_line(line, number, where, error)
                if record is None:
                    continue
            yield record


READ_BYTES = 1 << 20
BLOCK_RECORDS = 2000
MAX_LAYOUTS = 4096


class Readable(Protocol):
    """Anything read in pieces: an open file, or an HTTP body as it arrives."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


def iter_line_pieces(
    source: Path | Readable, *, read_bytes: int = READ_BYTES
) -> Iterator[tuple[bytes, int]]:
    """Yield ``(piece, end)``: ``piece[:end]`` is whole lines, each ending in a newline.

    The file (or body) is read in large pieces, so the per-line work can be done on
    slices of one buffer instead of one object per line, and the piece is never copied
    to cut it at its last newline; memory stays at about two pieces.
    """
    with source.open("rb") if isinstance(source, Path) else contextlib.nullcontext(source) as data:
        pending = b""
        while piece := data.read(read_bytes):
            if pending:
                piece = pending + piece
            end = piece.rfind(b"\n") + 1
            pending = piece[end:]
            if end:
                yield piece, end
        if pending:
            yield pending + b"\n", len(pending) + 1


@dataclass(frozen=True)
class Framing:
    """How serialised records are joined into one piece of output."""

    head: bytes
    """Before the first record (RECORD: the envelope up to ``"record":``)."""
    sep: bytes
    """Between two records (RECORD: the rest of one envelope and the start of the next)."""
    tail: bytes
    """After the last record."""

    def join(self, bodies: list[bytes]) -> bytes:
        """Records serialised one by one, framed."""
        return b"".join((self.head, self.sep.join(bodies), self.tail))


LINES = Framing(b"", b"\n", b"\n")
"""JSON Lines: one record per line."""


def frame_records(
    records: Iterable[dict[str, Any]],
    fields: Iterable[str],
    framing: Framing,
    default: Callable[[Any], Any] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Serialise decoded records, schema ``fields`` they lack as null, framed in blocks.

    ``(count, bytes)`` per :data:`BLOCK_RECORDS` records: one ``join`` per block, not one
    write per record. ``default`` serialises what orjson does not know.
    """
    nulls = dict.fromkeys(fields)
    dumps = orjson.dumps
    block: list[bytes] = []
    append = block.append
    for record in records:
        append(dumps({**nulls, **record}, default=default))
        if len(block) >= BLOCK_RECORDS:
            yield len(block), framing.join(block)
            block = []
            append = block.append
    if block:
        yield len(block), framing.join(block)


class RecordLines:
    """Turns JSON Lines into RECORD bodies without decoding them into Python objects.

    A record goes out byte for byte as the upstream wrote it, so nothing about it changes:
    key order, number spelling, escapes, fields no schema lists. Each line is still fully
    validated first (JSON syntax, UTF-8, an object at the top) by simdjson, which also
    lists its top-level keys without decoding any value; schema fields a record lacks are
    appended as ``null`` before its closing brace. A line simdjson refuses (invalid, or
    valid but outside its limits, such as integers wider than 64 bits) goes the slow way:
    orjson, whose verdict and errors (with line numbers) are those of ``iter_json_lines``.
    """

    def __init__(self, fields: Iterable[str], *, native: bool | None = None) -> None:
        """``native``: use the native pass (None: when it is built and not switched off)."""
        self.fields = tuple(fields)
        self._layouts: dict[tuple[str, ...], bytes] = {}
        self._null_record = dict.fromkeys(self.fields)
        self._parse = _simdjson_parser()
        self._native = native_frame() if native is None or native else None
        if native and self._native is None:
            msg = "the native fragment pass is not built (or TAP_ACTIVITIES_NATIVE=0)"
            raise ConfigError(msg)
        self._native_fields = (
            tuple(f.encode() for f in self.fields),
            tuple(orjson.dumps(f) + b":null" for f in self.fields),
        )

    def blocks(
        self,
        source: Path | Readable,
        *,
        where: str,
        framing: Framing,
        error: type[DataFormatError] = DataFormatError,
    ) -> Iterator[tuple[int, bytes]]:
        """Yield ``(record count, framed records)`` for each piece of ``source``, in order.

        Lines are never copied one by one: each is parsed through a slice of the piece,
        and the output is joined once per piece from slices and closings. A malformed
        line raises ``error``, naming its line number. Where the native pass is built, it
        frames each piece in one call; a piece it declines (any line that is not a clean
        object) takes the Python pass below, which words the error or decodes the line.
        """
        native, (names, nulls) = self._native, self._native_fields
        parse = self._parse
        head, sep, tail = framing.head, framing.sep, framing.tail
        # The layout of the previous record: records tend to repeat it, and comparing
        # keys costs less than hashing them.
        last_keys: tuple[str, ...] | None = None
        closing = joint = b""
        number = 1
        for data, end in iter_line_pieces(source):
            if native is not None and (framed := native(data, end, names, nulls, head, sep, tail)):
                number += framed[0]
                last_keys = None  # the next piece may take the Python pass
                yield framed
                continue
            view = memoryview(data)
            find = data.find
            pieces: list[Any] = [head]
            append = pieces.append
            count = 0
            start = 0
            while start < end:
                stop = find(b"\n", start)
                try:
                    # tuple() at once: the parser is reused only after its document is gone.
                    # (simdjson takes bytes faster than a memoryview, copy included.)
                    keys = tuple(parse(data[start:stop]).keys()) if parse is not None else None
                except (ValueError, AttributeError, RuntimeError):
                    keys = None  # refused, or not an object: the slow way decides
                if keys is None:
                    body = self._slow(data[start:stop], number, where, error)
                    if body is not None:
                        append(body)
                        append(sep)
                        last_keys, closing, joint = None, b"", sep
                        count += 1
                else:
                    if keys != last_keys:
                        closing = self._layout(keys)
                        joint = closing + sep
                        last_keys = keys
                    if closing:
                        close = stop - 1
                        while data[close] != 0x7D:  # back over whitespace to the "}"
                            close -= 1
                        append(view[start:close])
                    else:
                        append(view[start:stop])
                    append(joint)
                    count += 1
                number += 1
                start = stop + 1
            if count:
                pieces[-1] = closing + tail
                yield count, b"".join(pieces)

    def _layout(self, keys: tuple[str, ...]) -> bytes:
        """What closes an object with these keys: ``b""`` (as is) or its missing nulls.

        Records of one export come in a handful of key layouts, so this runs a handful
        of times per export; a layout's answer is kept (at most a few thousand).
        """
        closing = self._layouts.get(keys)
        if closing is not None:
            return closing
        present = frozenset(keys)
        missing = [f for f in self.fields if f not in present]
        if not missing:
            closing = b""
        else:
            nulls = b",".join(orjson.dumps(f) + b":null" for f in missing)
            closing = (b"," if keys else b"") + nulls + b"}"
        if len(self._layouts) < MAX_LAYOUTS:
            self._layouts[keys] = closing
        return closing

    def _slow(
        self, line: bytes, number: int, where: str, error: type[DataFormatError]
    ) -> bytes | None:
        record = _decode_line(line, number, where, error)
        return None if record is None else orjson.dumps({**self._null_record, **record})


NativeFrame = Callable[
    [bytes, int, tuple[bytes, ...], tuple[bytes, ...], bytes, bytes, bytes],
    "tuple[int, bytes] | None",
]


def native_frame() -> NativeFrame | None:
    """The native pass's ``frame``, or None (not built, or ``TAP_ACTIVITIES_NATIVE=0``).

    ``TAP_ACTIVITIES_NATIVE=1`` makes its absence an error, so that CI and benchmarks
    cannot measure the Python pass while believing they measure the native one.
    """
    mode = os.environ.get("TAP_ACTIVITIES_NATIVE", "")
    if mode == "0":
        return None
    try:
        from tap_activities import _native_lines  # type: ignore[attr-defined]
    except ImportError as exc:
        if mode == "1":
            msg = f"TAP_ACTIVITIES_NATIVE=1 but the native fragment pass cannot be loaded: {exc}"
            raise ConfigError(msg) from None
        return None
    return _native_lines.frame


def fragment_pass() -> str:
    """Which pass People.ai fragments take in this installation, for the start-up log."""
    if native_frame() is None:
        return "pure Python (the native pass is not built, or TAP_ACTIVITIES_NATIVE=0)"
    from tap_activities import _native_lines  # type: ignore[attr-defined]

    return f"native (simdjson, {_native_lines.implementation()} kernel)"


def _simdjson_parser() -> Callable[[bytes], Any] | None:
    """Simdjson's lazy parse, or None (every line then goes through orjson)."""
    try:
        import simdjson
    except ImportError:  # pragma: no cover - it is a dependency; this is a safety net
        return None
    return simdjson.Parser().parse


def _simdjson_object_type() -> type | None:
    """The type simdjson gives a parsed JSON object (None without simdjson)."""
    try:
        import simdjson
    except ImportError:  # pragma: no cover - as in _simdjson_parser
        return None
    return simdjson.Object


def check_json_lines(path: Path, *, where: str) -> None:
    """Check every line of a part; raise :class:`MalformedPartError` (retryable) at a bad one.

    Runs in the download worker, before any record of the part is emitted. simdjson
    validates a line in about a microsecond; a line it refuses goes to orjson, whose
    verdict (and message, with the line number) is final, as in :func:`iter_json_lines`.
    """
    parse = _simdjson_parser()
    json_object = _simdjson_object_type()
    number = 0
    for data, end in iter_line_pieces(path):
        find = data.find
        start = 0
        while start < end:
            stop = find(b"\n", start)
            number += 1
            line = data[start:stop]
            start = stop + 1
            if parse is not None:
                try:
                    if type(parse(line)) is json_object:
                        continue
                except (ValueError, RuntimeError):
                    pass  # refused: orjson decides below
            _decode_line(line, number, where, MalformedPartError)


def _decode_line(
    line: bytes, number: int, where: str, error: type[DataFormatError]
) -> dict[str, Any] | None:
    """One line as a dict (None if blank), or ``error`` naming its line number."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if not line.strip():
            return None
        msg = f"{where}: line {number} is not valid JSON ({exc.args[0][:80]})"
        raise error(msg) from None
    if type(record) is not dict:
        msg = f"{where}: line {number} is a JSON {type(record).__name__}, not an object"
        raise error(msg)
    return record
