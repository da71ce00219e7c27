r"""The quick way's date-times: found by one search per line, and judged where they stand.

The careful way (:mod:`.stamp_search`, :mod:`.record_lines`) keeps each line's place in
its piece and proves every date-time by searching from there; the quick way, which the
Python pass tries first, gets each line as its own bytes object and asks as little per
line as it can, because each question costs a Python call.

Top-level date-times (:class:`StampFinder`). simdjson has validated the line and listed its
keys, so the layout's date-time fields and their order are known. One search for
``"timestamp"`` followed by a date-time (and the others, in the layout's order) proves
where the values stand, as the careful search does:

- the first key's quote follows no backslash, and only the record's own ``{`` stands
  before it: a quote that follows no backslash and is followed by a letter opens a
  string, and a string followed by ``:`` is a key, so this is a top-level key whose
  decoded value is the name; the record holds each key once (its layout says so), so it
  is *the* key;
- between two keys, no ``{`` and no quote after a backslash: each next key is at the top
  level as well.

The values are matched by the whole check's grammar (``contract.normal_date_time``: as
written, or with ``Z`` when the offset is missing). The usual line, every value without an
offset, is split at the very places a ``Z`` goes; another is searched for where its values
end. A line neither settles is read the careful way, which fixes or refuses it in the
same words as before.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from tap_activities.sources.peopleai.lines.stamp_search import BLANK, DAY, OFFSET, TIME

_DATE_TIME = DAY + TIME
"""A date-time without its offset, as the whole check (``contract.normal_date_time``)
takes it."""
_VALUE = rb'(?:null|"(' + _DATE_TIME + rb"(" + OFFSET + rb'|))")'
"""A date-time member's value: group 1 its text (None: null), group 2 its offset (``b""``:
none, so a ``Z`` goes at the end of group 1)."""


class StampFinder:
    """The searches for one key layout's top-level date-times, in its order."""

    __slots__ = ("_parts", "_search", "_split")

    def __init__(self, names: Iterable[str]) -> None:
        """``names``: the layout's top-level date-time fields, in the layout's order."""
        keys = [b'"%s"' % name.encode() + BLANK + b":" + BLANK for name in names]
        between = [rb"[^{]*?(?<!\\)" if n else b"" for n in range(len(keys))]
        self._search = re.compile(
            b"".join(step + key + _VALUE for step, key in zip(between, keys, strict=True))
        ).search
        # Every value a date-time without an offset: each group runs from the previous
        # value's closing quote to the end of this one's text, so that the line splits
        # at the very places a Z goes.
        self._split = re.compile(
            b"".join(
                b"(" + (b'"' + step if n else b"") + key + b'"' + _DATE_TIME + b')(?=")'
                for n, (step, key) in enumerate(zip(between, keys, strict=True))
            )
        ).split
        self._parts = len(keys) + 2

    def splice(self, line: bytes) -> bytes | None:
        """The line with a ``Z`` after each date-time without an offset; None: the careful way.

        The usual line (no value has an offset) is cut where the ``Z``s go; any other
        is searched for where its values stand.
        """
        parts = self._split(line, 1)
        if len(parts) == self._parts:
            head = parts[0]
            if head[-1] == 0x5C or head.count(b"{") != 1:
                return None  # not surely the top-level key
            return head + b"Z".join(parts[1:])
        match = self._search(line)
        if match is None:
            return None  # a value to fix or to refuse, or a key spelled otherwise
        at = match.start()
        if line[at - 1] == 0x5C or line.count(b"{", 0, at) != 1:
            return None  # not surely the top-level key
        offsets = match.groups()[1::2]
        if b"" not in offsets:
            return line
        spans = match.regs
        cuts = [0]
        cuts += [spans[2 * n + 1][1] for n, offset in enumerate(offsets) if offset == b""]
        cuts.append(len(line))
        return b"Z".join([line[a:b] for a, b in itertools.pairwise(cuts)])


def stamp_finder(keys: Iterable[str], stamps: frozenset[str]) -> StampFinder | None:
    """The searches for a layout's top-level date-times; None where it holds none."""
    names = [key for key in keys if key in stamps]
    return StampFinder(names) if names else None
