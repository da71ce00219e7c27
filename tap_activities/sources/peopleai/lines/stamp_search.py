r"""Top-level date-times found by searching a line, each match proven where it stands.

The Python pass must know, for every record, whether its date-times need a ``Z`` and
where; asking simdjson for each value and then looking for it in the line cost more than
half of that pass on small records. One search for ``"timestamp"`` followed by a value
answers both, once the match is known to be the record's own ``timestamp`` key:

- the quote that opens it follows no backslash: in valid JSON such a quote opens a
  string, and a string that is ``"timestamp"`` followed by ``:`` is a key whose decoded
  value is ``timestamp``;
- the line holds a single ``{`` before it (the record's own): no nested object has begun,
  so the key is at the top level; the record holds no key twice (its layout says so), so
  it is *the* ``timestamp`` key, however any other key is spelled.

For a nested date-time path of two keys (``crm_status`` then ``push_time``), a line framed
by search holds ``"push_time"`` at most once, followed by null or a date-time with an
offset: the nested field is that one or absent, and needs no change or verdict (nor is
its key twice on the path). That ``"push_time"`` has no other spelling needs a piece
without ``\u`` (no short escape stands for a letter, a digit, ``_`` or ``-``).

A line the search cannot settle is read the careful way (:mod:`.record_lines`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

BLANK = rb"[ \t\n\r]*"
"""JSON whitespace."""
DAY = (
    rb"(?:\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"  # a day every month has
    rb"|\d{4}-(?:0[13-9]|1[0-2])-(?:29|30)"
    rb"|\d{4}-(?:0[13578]|1[02])-31"
    rb"|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
TIME = rb"[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?"
OFFSET = rb"(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
"""The grammar of a date-time's day, time of day and offset, as the whole check
(``contract.normal_date_time``) takes them: every day of every month, leap days included."""
SETTLED = re.compile(rb"(?:" + DAY + TIME + rb")(" + OFFSET + rb"?)")
"""A date-time the whole check (``contract.normal_date_time``) takes: as it is, or, when
its group 1 (the offset) is empty, with ``Z`` appended."""
_ESCAPE_U = re.compile(rb"\\u").search
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+").fullmatch
"""Whether a key has no spelling but itself in a line without ``\\u``."""


Finder = Callable[[bytes, int, int], "re.Match[bytes] | None"]
"""A compiled search over ``data[start:stop]``."""


class PieceSearch:
    """The search for a record's top-level date-times.

    Made once per :class:`~.record_lines.RecordLines` whose top-level date-time names
    and nested paths (two keys, the last of plain characters) allow it. Per key layout
    that holds every top-level date-time, :meth:`finder` (one search for all of them, in
    the layout's order); per piece :meth:`begin`; per line :meth:`quotes`.
    """

    def __init__(self, stamps: Iterable[str], leaves: Iterable[str]) -> None:
        """``stamps``: top-level date-time names; ``leaves``: last keys of nested paths."""
        self.stamps = tuple(stamps)
        fine = re.compile(BLANK + b":" + BLANK + rb'(?:null|"' + DAY + TIME + OFFSET + b'")')
        self._leaves = tuple((b'"%s"' % name.encode(), fine.match) for name in leaves)
        self._finders: dict[tuple[str, ...], Finder] = {}

    def finder(self, order: Iterable[str]) -> Finder:
        """One search for the top-level date-times in the order a layout holds them.

        Group ``n`` is the ``n``-th one's offset: ``b""`` for none (a ``Z`` goes at its
        end), None for null. Between two of them, no ``{`` and no quote after a backslash
        before the next key: each is then at the top level, as the first one is.
        """
        order = tuple(order)
        found = self._finders.get(order)
        if found is None:
            value = rb'(?:null|"(?:' + DAY + TIME + b")(" + OFFSET + rb'?)")'
            parts = [
                (rb"[^{]*?(?<!\\)" if n else b"") + b'"%s"' % name.encode() + BLANK + b":"
                for n, name in enumerate(order)
            ]
            found = re.compile((BLANK + value).join([*parts, b""])).search
            self._finders[order] = found
        return found

    def begin(self, data: bytes, end: int) -> bool:
        r"""Whether lines of ``data[:end]`` may be framed by search (no ``\u``, or no leaf)."""
        return not self._leaves or _ESCAPE_U(data, 0, end) is None

    def quotes(self, data: bytes, start: int, stop: int, finder: Finder) -> list[int] | None:
        """The quotes a ``Z`` goes before in a line that holds every top-level date-time.

        ``finder``: the layout's (:meth:`finder`). None when the search cannot settle the
        line (the careful way decides).
        """
        find = data.find
        for key, fine in self._leaves:
            at = find(key, start, stop)
            if at < 0:
                continue
            if find(key, at + 1, stop) >= 0 or fine(data, at + len(key), stop) is None:
                return None  # a key twice on the path, or a value to change or to refuse
        match = finder(data, start, stop)
        if match is None:
            return None
        at = match.start()
        if data[at - 1] == 0x5C or data.count(b"{", start, at) != 1:
            return None  # not surely the top-level key
        offsets = match.groups()
        if b"" not in offsets:
            return []
        spans = match.regs
        return [spans[n][1] for n, offset in enumerate(offsets, 1) if offset == b""]
