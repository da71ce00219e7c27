"""Byte-level looks at JSON lines, without decoding them: what the Python pass asks of a line.

The Python pass (:class:`~.record_lines.RecordLines`) lets simdjson validate a line and
then writes it out as it came; these answer the few questions simdjson does not:
whether a piece can hold a line the rules refuse (a byte order mark, nesting deeper than
:data:`MAX_DEPTH`), and where the closing quotes of top-level date-time values are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

BOM = b"\xef\xbb\xbf"
"""UTF-8's byte order mark: skipped at the very start of a fragment, refused elsewhere."""
MAX_DEPTH = 254
"""How deep a line may nest, the record itself counting as one level: as deep as orjson
writes. A deeper line is refused, in both passes, rather than written by one pass only."""


_BLANK = frozenset(b" \t\r\n")


def _string_end(data: bytes, i: int) -> int:
    """Where the string whose opening quote is at ``i`` closes."""
    i += 1
    while data[i] != 0x22:
        i += 2 if data[i] == 0x5C else 1
    return i


def _value_end(data: bytes, i: int) -> int:
    """Where the number, literal, object or array at ``i`` ends (its "," or "}")."""
    depth = 0
    while True:
        c = data[i]
        if c == 0x22:
            i = _string_end(data, i)
        elif c in b"{[":
            depth += 1
        elif c in b"}]":
            if not depth:
                return i
            depth -= 1
        elif c == 0x2C and not depth:
            return i
        i += 1


def top_level_quotes(data: bytes, start: int, stop: int, wanted: list[str]) -> list[int] | None:
    """The closing quotes of top-level string values whose key is in ``wanted``, in order.

    The walk the native pass makes (``value_quotes``) over a line known to be valid JSON,
    for the rare line where a search cannot tell the top-level value from a nested copy
    or from a key spelled otherwise. Keys are compared by their decoded value (a key
    holding a backslash is decoded first). None unless there is exactly one value per
    entry of ``wanted``.
    """
    keys = set(wanted)
    quotes: list[int] = []
    i = start

    while data[i] in _BLANK:
        i += 1
    i += 1  # the "{"
    while True:
        while data[i] in _BLANK or data[i] == 0x2C:
            i += 1
        if data[i] == 0x7D or i >= stop:
            break
        close = _string_end(data, i)
        key = _key_text(data[i : close + 1])
        i = data.index(b":", close) + 1
        while data[i] in _BLANK:
            i += 1
        if data[i] == 0x22:
            i = _string_end(data, i)
            if key in keys:
                quotes.append(i)
            i += 1
        else:
            i = _value_end(data, i)
    return quotes if len(quotes) == len(wanted) else None


def _key_text(spelled: bytes) -> str | None:
    """A key's decoded value from its spelling, quotes included; None if orjson refuses it.

    (simdjson takes a lone surrogate escape that orjson refuses: the slow way words it.)
    """
    if 0x5C not in spelled:
        return spelled[1:-1].decode()
    try:
        return orjson.loads(spelled)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return None


_SPECIAL = re.compile(rb'[\\"\[\]{}]')


def too_deep(line: bytes) -> bool:
    """Whether the JSON in ``line`` nests deeper than :data:`MAX_DEPTH`.

    Counting brackets settles nearly every line; the walk (outside strings) runs only
    for a line with more opening brackets than the limit.
    """
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    in_string = False
    escaped = -1
    for match in _SPECIAL.finditer(line):
        at = match.start()
        if at == escaped:
            continue
        char = line[at]
        if in_string:
            if char == 0x5C:
                escaped = at + 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in {0x5B, 0x7B}:
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in {0x5D, 0x7D}:
            depth -= 1
    return False


def suspect(data: bytes, start: int, stop: int) -> bool:
    """Whether the line ``data[start:stop]`` holds what simdjson takes and the rules refuse."""
    return data.startswith(BOM, start) or (
        data.count(b"[", start, stop) + data.count(b"{", start, stop) > MAX_DEPTH
        and too_deep(data[start:stop])
    )


@dataclass(frozen=True, slots=True)
class PieceScreen:
    """What one look at a whole piece proves about all of its lines (:func:`screen_piece`)."""

    lines: int
    """How many lines it holds."""
    bom: bool
    """Whether a line may start with a byte order mark (False: none does)."""
    deep: bool
    """Whether a line may nest deeper than :data:`MAX_DEPTH` (False: none does)."""


_NOT_OPENING = bytes(sorted(set(range(256)) - set(b"[{\n")))
"""Every byte but the opening brackets and the newline."""


def screen_piece(data: bytes) -> PieceScreen:
    """Look at the lines of a piece as a whole, in a few passes at C speed.

    Looking at each line for a byte order mark and counting its brackets
    (:func:`suspect`) cost the Python pass a sixth of its time, yet a piece proves
    nearly always that no line needs it: no byte 0xEF (a BOM's first) anywhere, and no
    line with more than :data:`MAX_DEPTH` opening brackets (the piece with all other
    bytes deleted holds each line's brackets and its newline). Bytes after the last
    newline (the start of a line the next piece completes) are no line of this piece
    and can only make the answer cautious.
    """
    openings = data.translate(None, _NOT_OPENING)
    return PieceScreen(
        lines=openings.count(b"\n"),
        bom=BOM[:1] in data,
        deep=max(map(len, openings.split(b"\n"))) > MAX_DEPTH,
    )
