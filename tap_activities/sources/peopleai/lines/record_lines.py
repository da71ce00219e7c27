"""People.ai's JSON Lines, read once: validated, contracted and framed in one pass.

Every record of a fragment goes through :class:`RecordLines` in a download worker before
any of them is emitted, because a broken line usually means a damaged transfer: the
fragment is fetched again instead of being emitted half. Its blocks are what every output
path takes: RECORD and BATCH write them as they are, and the SDK's own record path
(stream maps, flattening, deselected fields) decodes them
(:func:`~tap_activities.records.framing.decode_lines`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import simdjson

from tap_activities.errors import ConfigError, DataFormatError
from tap_activities.records.contract import (
    NORMAL_DATE_TIME,
    DateTimeError,
    FieldTypes,
    fix_date_time,
    merge_types,
    normal_date_time,
    type_bits,
)
from tap_activities.records.framing import Block, Framing, dumps_exact
from tap_activities.sources.peopleai.lines.decode import (
    date_time_error,
    decode_exact,
    refuse_twice,
)
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.quick_stamps import StampFinder, stamp_finder
from tap_activities.sources.peopleai.lines.scan import (
    BOM,
    PieceScreen,
    screen_piece,
    suspect,
    top_level_quotes,
)
from tap_activities.sources.peopleai.lines.stamp_search import PLAIN_KEY, Finder, PieceSearch

READ_BYTES = 1 << 20
MAX_LAYOUTS = 4096
QUICK_LINE_BYTES = 1024
"""The longest average line the quick way takes. It copies each line out of its piece
(and again to close it), which the careful way does not: on ~550-byte records the quick
way costs ~25 % less than the careful way, on ~1.5 KB records ~5 % more."""


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
        opening = True  # a byte order mark may still stand here
        while piece := data.read(read_bytes):
            if pending:
                piece = pending + piece
            if opening:
                if len(piece) < len(BOM) and BOM.startswith(piece):
                    pending = piece  # too short to tell yet
                    continue
                opening = False
                if piece.startswith(BOM):
                    piece = piece[len(BOM) :]
            end = piece.rfind(b"\n") + 1
            pending = piece[end:]
            if end:
                yield piece, end
        if pending:
            yield pending + b"\n", len(pending) + 1


class RecordLines:
    """Turns JSON Lines into RECORD bodies without decoding them into Python objects.

    A record goes out byte for byte as the upstream wrote it, so nothing about it changes:
    key order, number spelling, escapes, fields no schema lists. Each line is still fully
    validated first (JSON syntax, UTF-8, an object at the top) by simdjson, which also
    lists its top-level keys without decoding any value; schema fields a record lacks are
    appended as ``null`` before its closing brace. A line simdjson refuses (invalid, or
    valid but outside its limits, such as integers wider than 64 bits) goes the slow way:
    orjson and the standard library, which word every refusal, with its line number.

    The data contract (:mod:`~tap_activities.records.contract`) is kept on the way: a date-time
    without an offset gets ``Z`` appended (such a record is re-serialised, the slow way;
    the native pass splices the ``Z`` in), one that is no date-time raises
    :class:`DataFormatError` with its line number, and the JSON types of keys outside
    ``fields`` are reported with each block.
    """

    def __init__(
        self,
        fields: Iterable[str],
        *,
        date_times: Iterable[tuple[str, ...]] = (),
        native: bool | None = None,
    ) -> None:
        """``date_times``: paths of the date-time fields; ``native``: use the native pass.

        ``native`` None: when it is built and not switched off.
        """
        self.fields = tuple(fields)
        self.date_times = tuple(date_times)
        self._top_date_times = frozenset(p[0] for p in self.date_times if len(p) == 1)
        self._nested = tuple("/" + "/".join(p) for p in self.date_times if len(p) > 1)
        self._stamp_patterns = {
            name: re.compile(b'"' + re.escape(name.encode()) + rb'"\s*:\s*"([^"\\]*)"')
            for name in self._top_date_times
        }
        self._plain_stamps = frozenset(n for n in self._top_date_times if PLAIN_KEY(n))
        self._search = _search_for(self.date_times)
        self._searching = True
        self._layouts: dict[tuple[str, ...], _Layout] = {}
        self._last_keys: tuple[str, ...] | None = None
        self._last_layout: _Layout | None = None
        self._null_record = dict.fromkeys(self.fields)
        self._parse = simdjson.Parser().parse
        self._native = native_frame() if native is None or native else None
        if native and self._native is None:
            msg = "the native fragment pass is not built (or TAP_ACTIVITIES_NATIVE=0)"
            raise ConfigError(msg)
        self._native_fields = (
            tuple(f.encode() for f in self.fields),
            tuple(orjson.dumps(f) + b":null" for f in self.fields),
            tuple(sorted(f.encode() for f in self._top_date_times)),
            tuple(p.encode() for p in self._nested),
        )

    def blocks(
        self,
        source: Path | Readable,
        *,
        where: str,
        framing: Framing,
        error: type[DataFormatError] = DataFormatError,
    ) -> Iterator[Block]:
        """Yield ``(record count, framed records, unknown types)`` per piece, in order.

        Lines are never copied one by one: each is parsed through a slice of the piece,
        and the output is joined once per piece from slices and closings. A malformed
        line raises ``error``, naming its line number. Where the native pass is built, it
        frames each piece in one call; a piece it declines (any line that is not a clean
        object, a date-time it does not decide) takes the Python pass below, which words
        the error or decodes the line.
        """
        native, (names, nulls, stamps, pointers) = self._native, self._native_fields
        number = 1
        for data, end in iter_line_pieces(source):
            framed = None
            if native is not None:
                head, sep, tail = framing.head, framing.sep, framing.tail
                done = native(data, end, names, nulls, head, sep, tail, stamps, pointers)
                framed = None if done is None else Block(*done)
            if framed is None:
                framed, lines = self._python_piece(
                    data, end, number=number, where=where, framing=framing, error=error
                )
                number += lines
            else:
                number += framed[0]
            if framed is not None:
                yield framed

    def _python_piece(
        self,
        data: bytes,
        end: int,
        *,
        number: int,
        where: str,
        framing: Framing,
        error: type[DataFormatError],
    ) -> tuple[Block | None, int]:
        """The Python pass over one piece whose first line is line ``number``; its line count.

        The quick way (:meth:`_quick_piece`) where the piece allows it; the careful way
        (:meth:`_careful_piece`) for a piece whose screen found a line nested too deep, or
        whose lines are long (:data:`QUICK_LINE_BYTES`).
        """
        screen = screen_piece(data)
        if not screen.deep and end <= QUICK_LINE_BYTES * screen.lines:
            lines = data[:end].split(b"\n")
            lines.pop()  # what follows the last newline: nothing
            framed = self._quick_piece(
                lines,
                screen=screen,
                number=number,
                where=where,
                framing=framing,
                error=error,
            )
            if framed is not None:
                return framed, len(lines)
        return self._careful_piece(
            data, end, screen=screen, number=number, where=where, framing=framing, error=error
        )

    def _quick_piece(
        self,
        lines: list[bytes],
        *,
        screen: PieceScreen,
        number: int,
        where: str,
        framing: Framing,
        error: type[DataFormatError],
    ) -> Block | None:
        """The lines of a piece framed one by one, each as written where its layout allows.

        A line simdjson reads, whose keys stand once, whose top-level date-times the
        layout's search finds (:mod:`.quick_stamps`) and whose nested ones need no
        change, goes out as written: a ``Z`` spliced after each date-time without an
        offset, the schema fields it lacks appended as nulls. Any other line takes the
        careful way alone (:meth:`_careful_piece`), which fixes it, decodes it or words
        its refusal with its line number. No position in the piece is kept: the lines
        are cut once, and the output joined once.
        """
        parse = self._parse
        keys_seen, layout = self._last_keys, self._last_layout
        bom = screen.bom
        out: list[bytes] = []
        append = out.append
        unknown: FieldTypes = {}
        for index, line in enumerate(lines):
            framed = None
            if not (bom and line.startswith(BOM)):
                # The document goes before the next parse: the parser is reused only
                # once its objects are gone (the careful way parses too).
                try:
                    document = parse(line)
                except (ValueError, RuntimeError):
                    document = None  # refused: the careful way words it
                if type(document) is _OBJECT:  # not an array or a scalar either
                    keys = tuple(document)  # its keys, as written (less than .keys())
                    if keys != keys_seen:
                        layout, keys_seen = self._layout(keys), keys
                    framed = self._settle(line, document, layout, unknown)
                document = None
            if framed is None:
                careful, _ = self._careful_piece(
                    line + b"\n",
                    len(line) + 1,
                    screen=screen,
                    number=number + index,
                    where=where,
                    framing=BARE,
                    error=error,
                )
                if careful is None:
                    continue  # a blank line
                merge_types(unknown, careful.unknown)
                framed = careful.data
            append(framed)
        self._last_keys, self._last_layout = keys_seen, layout
        if not out:
            return None
        out[0] = framing.head + out[0]
        out[-1] += framing.tail
        return Block(len(out), framing.sep.join(out), unknown or None)

    def _settle(
        self, line: bytes, document: Any, layout: _Layout, unknown: FieldTypes
    ) -> bytes | None:
        """The line as it goes out, where the quick way settles it; None: the careful way.

        ``document`` is simdjson's reading of the line, whose keys gave ``layout``. Where
        the previous line needed a ``Z``, the layout's search (:mod:`.quick_stamps`)
        splits the line where they go; else, or where the search cannot settle the
        line, its values are asked of simdjson (:meth:`_checked`), which costs less on
        a long line that needs nothing. Adds the types of the line's keys outside the
        schema to ``unknown``.
        """
        if layout.twice:
            return None  # the careful way words the refusal
        if not layout.checks:
            return _closed(line, layout.closing)
        finder = layout.stamps_found
        if self._searching and finder is not None and not layout.nul:
            spliced = finder.splice(line)
            try:
                if spliced is not None and (
                    not layout.nested or _nested_settled(document, layout.nested)
                ):
                    for name in layout.unknown:
                        unknown[name] = unknown.get(name, 0) | type_bits(document[name])
                    self._searching = spliced is not line
                    return _closed(spliced, layout.closing)
            except (KeyError, RuntimeError):  # a key simdjson cannot look up
                pass
        found, quotes = self._checked(document, layout, line, 0, len(line), unknown)
        if found is None:
            return None
        self._searching = bool(quotes)
        pieces: list[Any] = []
        _append_line(
            pieces.append, memoryview(line), 0, len(line), closing=layout.closing, quotes=quotes
        )
        return b"".join(pieces)

    def _careful_piece(
        self,
        data: bytes,
        end: int,
        *,
        screen: PieceScreen,
        number: int,
        where: str,
        framing: Framing,
        error: type[DataFormatError],
    ) -> tuple[Block | None, int]:
        """The careful way over a piece whose first line is line ``number``; its line count.

        Each line's place in the piece is kept, and every question the quick way leaves
        open is asked: top-level date-times are found by searching (:mod:`.stamp_search`)
        where the piece allows it, else each is asked of simdjson.
        """
        search = self._search
        if search is not None and not search.begin(data, end):
            search = None
        framed = self._frame_lines(
            data,
            end,
            screen=screen,
            search=search,
            number=number,
            where=where,
            framing=framing,
            error=error,
        )
        return framed, screen.lines

    def _frame_lines(
        self,
        data: bytes,
        end: int,
        *,
        screen: PieceScreen,
        search: PieceSearch | None,
        number: int,
        where: str,
        framing: Framing,
        error: type[DataFormatError],
    ) -> Block | None:
        """The lines of ``data[:end]`` framed; each goes out as written or the slow way."""
        sep = framing.sep
        view = memoryview(data)
        find = data.find
        pieces: list[Any] = [framing.head]
        append = pieces.append
        count = 0
        unknown: FieldTypes = {}
        start = 0
        while start < end:
            stop = find(b"\n", start)
            layout, quotes = self._line(data, start, stop, screen, unknown, search=search)
            if layout is not None:
                _append_line(append, view, start, stop, closing=layout.closing, quotes=quotes)
                append(sep)
                count += 1
            else:
                body, types = self._slow(data[start:stop], number, where, error)
                if body is not None:
                    merge_types(unknown, types)
                    append(body)
                    append(sep)
                    count += 1
            number += 1
            start = stop + 1
        if not count:
            return None
        pieces[-1] = framing.tail
        return Block(count, b"".join(pieces), unknown or None)

    def _line(
        self,
        data: bytes,
        start: int,
        stop: int,
        screen: PieceScreen,
        unknown: FieldTypes,
        *,
        search: PieceSearch | None = None,
    ) -> tuple[_Layout | None, list[int]]:
        """How the line ``data[start:stop]`` goes out as written; ``(None, [])``: the slow way.

        Its layout, and the quotes a ``Z`` goes before (date-times given their offset).
        simdjson validates the line and lists its top-level keys without decoding any
        value. It takes a few lines the rules refuse (a byte order mark, nesting deeper
        than ``MAX_DEPTH``): those go the slow way too, which words the refusal; they are
        looked for line by line only in a piece whose :func:`screen_piece` found any. Adds
        the types of the line's keys outside the schema to ``unknown``. With ``search``,
        a line holding every top-level date-time has them found by searching.
        (simdjson takes bytes faster than a memoryview, copy included.)
        """
        if (screen.bom and data.startswith(BOM, start)) or (
            screen.deep and suspect(data, start, stop)
        ):
            return None, []
        # The document goes with this frame, before the next parse: the parser is reused
        # only once its objects are gone.
        try:
            document = self._parse(data[start:stop])
            keys = tuple(document.keys())
        except (ValueError, AttributeError, RuntimeError):
            return None, []  # refused, or not an object: the slow way decides
        # Records tend to repeat the previous record's layout, and comparing keys costs
        # less than hashing them.
        if keys == self._last_keys:
            layout = self._last_layout
        else:
            layout = self._last_layout = self._layout(keys)
            self._last_keys = keys
        if layout.twice:
            return None, []  # a key twice: the slow way words the refusal
        if not layout.checks:
            return layout, []
        if search is None or layout.finder is None:
            return self._checked(document, layout, data, start, stop, unknown)
        # Searching costs more than asking simdjson where no date-time needs a Z (its
        # cost grows with the line), and much less where some do: records of an export
        # are alike, so the previous record tells which way the next one goes.
        if self._searching:
            quotes = search.quotes(data, start, stop, layout.finder)
            if quotes is not None:
                for name in layout.unknown:
                    unknown[name] = unknown.get(name, 0) | type_bits(document[name])
                self._searching = bool(quotes)
                return layout, quotes
        found = self._checked(document, layout, data, start, stop, unknown)
        self._searching = bool(found[1])
        return found

    def _checked(  # noqa: PLR0917 - the line's document, layout and place
        self,
        document: Any,
        layout: _Layout,
        data: bytes,
        start: int,
        stop: int,
        unknown: FieldTypes,
    ) -> tuple[_Layout | None, list[int]]:
        """:meth:`_line` for a line whose values must be looked at: each asked of simdjson."""
        if layout.nul:
            # pysimdjson looks "a\u0000b" up as "a": such a line is decoded instead.
            document = None
            fixes = self._fits_decoded(data[start:stop], unknown)
        else:
            try:
                fixes = self._fits(document, layout, unknown)
            except (KeyError, RuntimeError):  # a key simdjson cannot look up
                document = None
                fixes = self._fits_decoded(data[start:stop], unknown)
        if fixes is None:
            return None, []
        if not fixes:
            return layout, []
        quotes = self._stamp_quotes(data, start, stop, fixes)
        return (layout, quotes) if quotes is not None else (None, [])

    def _fits(
        self, document: Any, layout: _Layout, unknown: FieldTypes
    ) -> list[tuple[str, str]] | None:
        """What the line needs: ``[]`` nothing, ``[(field, value)]`` a ``Z`` after the value.

        None: the slow way decides, because a date-time field holds something to refuse
        (no date-time, or a key of its path twice) or a nested one needs a change. Only
        the slow way words errors, so that every refusal reads the same from both passes.
        Also adds the types of the line's keys outside the schema to ``unknown``.
        """
        fixes = []
        normal = _NORMAL_DATE_TIME
        for name in layout.stamps:
            value = document[name]
            if value is None or (isinstance(value, str) and normal(value) is not None):
                continue  # most date-times: written as they should be
            fixed = normal_date_time(value) if isinstance(value, str) else None
            if fixed is None:
                return None
            if fixed is not value:
                fixes.append((name, value))
        for path in layout.nested:
            value = _nested_value(document, path)
            if value is _TWICE:
                return None
            if value is not None and (
                not isinstance(value, str) or normal_date_time(value) is not value
            ):
                return None  # the slow way fixes it, or words the error
        for name in layout.unknown:
            bits = type_bits(document[name])
            unknown[name] = unknown.get(name, 0) | bits
        return fixes

    def _fits_decoded(self, line: bytes, unknown: FieldTypes) -> list[tuple[str, str]] | None:
        """:meth:`_fits` for a line simdjson's lookups refuse, decoded in Python instead.

        The same answers as :meth:`_fits` (and as the native pass, which looks such keys
        up): top-level date-times to fix are spliced, anything else goes the slow way.
        """
        try:
            record = decode_exact(line, 0, "", DataFormatError)
            refuse_twice(record, self.date_times, 0, "")  # type: ignore[arg-type]
        except DataFormatError:
            return None  # the slow way words the error
        fixes = []
        for path in self.date_times:
            value: Any = record
            for name in path:
                value = value.get(name) if isinstance(value, dict) else None
            if value is None:
                continue
            fixed = normal_date_time(value) if isinstance(value, str) else None
            if fixed is None or (fixed is not value and len(path) > 1):
                return None  # the slow way words the error, or fixes the nested value
            if fixed is not value:
                fixes.append((path[0], value))
        merge_types(
            unknown,
            {k: type_bits(v) for k, v in record.items() if k not in self._null_record},  # type: ignore[union-attr]
        )
        return fixes

    def _stamp_quotes(
        self, data: bytes, start: int, stop: int, fixes: list[tuple[str, str]]
    ) -> list[int] | None:
        r"""Where the closing quotes of the values to fix are, in order (None: not found).

        A key is judged by its decoded value, never by its spelling. One search settles
        the usual line: a match whose opening quote follows no backslash opens a real
        key (in valid JSON no opening quote does, and a quote after one is escaped or
        closes a string), and in a line without ``\u`` a key of letters, digits, ``_``
        and ``-`` has no other spelling, nor has a date-time: one such match is the
        top-level one. Anything else (a ``\u`` in the line, a nested copy, an odd key
        name) takes the walk of the line's top level (:func:`top_level_quotes`).
        """
        if data.find(b"\\u", start, stop) < 0:
            quotes = []
            for name, value in fixes:
                if name not in self._plain_stamps:
                    break
                wanted = value.encode()
                found = [
                    match.end(1)
                    for match in self._stamp_patterns[name].finditer(data, start, stop)
                    if match[1] == wanted and data[match.start() - 1] != 0x5C
                ]
                if len(found) != 1:
                    break
                quotes.append(found[0])
            else:
                return sorted(quotes)
        return top_level_quotes(data, start, stop, [name for name, _ in fixes])

    def _layout(self, keys: tuple[str, ...]) -> _Layout:
        """What records with these keys need: their closing, date-times, unknown keys.

        The closing is ``b""`` (as is) or the missing nulls. Records of one export come in
        a handful of key layouts, so this runs a handful of times per export; a layout's
        answer is kept (at most a few thousand).
        """
        layout = self._layouts.get(keys)
        if layout is not None:
            return layout
        present = frozenset(keys)
        missing = [f for f in self.fields if f not in present]
        if not missing:
            closing = b""
        else:
            nulls = b",".join(orjson.dumps(f) + b":null" for f in missing)
            closing = (b"," if keys else b"") + nulls + b"}"
        known = frozenset(self.fields)
        stamps = tuple(p[0] for p in self.date_times if len(p) == 1 and p[0] in present)
        twice, nul = len(present) != len(keys), any("\x00" in key for key in keys)
        layout = _Layout(
            closing,
            stamps,
            tuple(p for p in self.date_times if len(p) > 1 and p[0] in present),
            tuple(k for k in keys if k not in known),
            twice,
            nul,
            self._searchable(keys, stamps, twice=twice or nul),
            stamp_finder(keys, self._top_date_times),
        )
        if len(self._layouts) < MAX_LAYOUTS:
            self._layouts[keys] = layout
        return layout

    def _searchable(
        self, keys: tuple[str, ...], stamps: tuple[str, ...], *, twice: bool
    ) -> Finder | None:
        """The search for a layout's date-times: it holds every top-level one, each once."""
        if self._search is None or twice or len(stamps) != len(self._search.stamps):
            return None
        return self._search.finder(k for k in keys if k in stamps)

    def _slow(
        self, line: bytes, number: int, where: str, error: type[DataFormatError]
    ) -> tuple[bytes | None, FieldTypes | None]:
        """A line decoded, checked, its date-times fixed, serialised again; its unknown types.

        Every refusal of either pass is worded here, in one order: the line as JSON
        (:func:`decode_exact`), a key twice (:func:`refuse_twice`), then the date-times.
        """
        record = decode_exact(line, number, where, error)
        if record is None:
            return None, None
        refuse_twice(record, self.date_times, number, where)
        try:
            for path in self.date_times:
                fix_date_time(record, path)
        except DateTimeError as exc:
            raise date_time_error(where, number, exc) from None
        known = self._null_record
        types = {k: type_bits(v) for k, v in record.items() if k not in known} or None
        return dumps_exact({**known, **record}), types


@dataclass(frozen=True)
class _Layout:
    """What the records of one key layout need (:meth:`RecordLines._layout`)."""

    closing: bytes
    """``b""``, or the schema fields it lacks as nulls and the closing brace."""
    stamps: tuple[str, ...]
    """Its top-level date-time fields, whose values are checked."""
    nested: tuple[tuple[str, ...], ...]
    """The paths of nested date-time fields whose first key it holds."""
    unknown: tuple[str, ...]
    """Its keys the schema does not list, whose types are reported."""
    twice: bool
    """Whether a key stands twice in it (such a line is refused)."""
    nul: bool
    """Whether a key holds U+0000, which simdjson's Python lookups cut short."""
    finder: Finder | None
    """The search for its records' date-times (:mod:`.stamp_search`), where it holds
    every top-level one and no key twice or with U+0000."""
    stamps_found: StampFinder | None
    """The searches that find its records' top-level date-times (:mod:`.quick_stamps`);
    None where it holds none."""
    checks: bool = field(init=False)
    """Whether a record of this layout needs more than framing (a field, not a property:
    it is asked once a line)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", bool(self.stamps or self.nested or self.unknown))


BARE = Framing(b"", b"", b"")
"""One line's record alone, unframed: how the quick way asks the careful way for a line."""


def _closed(line: bytes, closing: bytes) -> bytes:
    """The line with its "}" replaced by ``closing`` (the nulls it lacks), if any."""
    return line[: line.rindex(b"}")] + closing if closing else line


def _nested_settled(document: Any, paths: tuple[tuple[str, ...], ...]) -> bool:
    """Whether the nested date-times on ``paths`` are absent, null, or need no change.

    False: the careful way fixes one, or words its refusal (also for a key twice on a path).
    """
    for path in paths:
        value = _nested_value(document, path)
        if value is _TWICE:
            return False
        if value is not None and (
            not isinstance(value, str) or normal_date_time(value) is not value
        ):
            return False
    return True


def _append_line(
    append: Callable[[Any], None],
    view: memoryview,
    start: int,
    stop: int,
    *,
    closing: bytes,
    quotes: list[int],
) -> None:
    """The line ``view[start:stop]`` as slices, its "}" replaced by ``closing`` if any.

    A ``Z`` goes before each of ``quotes`` (date-times given their offset).
    """
    end = stop
    if closing:
        end = stop - 1
        while view[end] != 0x7D:  # back over whitespace to the "}"
            end -= 1
    for quote in quotes:
        append(view[start:quote])
        append(b"Z")
        start = quote
    append(view[start:end])
    if closing:
        append(closing)


_OBJECT = simdjson.Object
"""The type simdjson gives a parsed JSON object."""


_NORMAL_DATE_TIME = NORMAL_DATE_TIME.fullmatch
"""Whether a date-time needs no change (most do not), without calling :func:`normal_date_time`."""


def _search_for(date_times: tuple[tuple[str, ...], ...]) -> PieceSearch | None:
    """The search for these date-time paths, where their names allow one.

    (Plain names, and nested paths of two keys: :mod:`.stamp_search`.)
    """
    top = [p[0] for p in date_times if len(p) == 1]
    nested = [p for p in date_times if len(p) > 1]
    if all(PLAIN_KEY(name) for name in top) and all(
        len(path) == 2 and PLAIN_KEY(path[1]) for path in nested
    ):
        return PieceSearch(top, (path[1] for path in nested))
    return None


_TWICE = object()
"""What :func:`_nested_value` finds on a path that holds a key twice."""


def _nested_value(document: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a simdjson document: None if absent, :data:`_TWICE`."""
    node = document[path[0]]
    for name in path[1:]:
        if type(node) is not _OBJECT:
            return None
        count = tuple(node).count(name)  # its keys, as written (less than .keys())
        if count != 1:
            return _TWICE if count else None
        node = node[name]
    return node
