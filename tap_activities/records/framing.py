"""Records serialised and framed in blocks: the unit every output path writes or decodes.

A block is many records joined once (RECORD messages, or bare JSON Lines), so output costs
one write per block, not one per record. Both sources make them (People.ai's lines in
:mod:`~tap_activities.sources.peopleai.lines.record_lines`, ChartMogul's CSV rows through
:func:`frame_records`), and the SDK's record path decodes them back (:func:`decode_lines`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from tap_activities.records.contract import FieldTypes

BLOCK_RECORDS = 2000
"""Records per block when records are serialised one by one (:func:`frame_records`)."""


class Block(NamedTuple):
    """Records of one piece of input, serialised and framed, ready to be written."""

    count: int
    """How many records ``data`` holds."""
    data: bytes
    """The records, framed (RECORD messages or bare JSON lines)."""
    unknown: FieldTypes | None
    """Types of the fields the schema does not list, or None when there are none."""


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
    unknown: FieldTypes | None = None,
) -> Iterator[Block]:
    """Serialise decoded records, schema ``fields`` they lack as null, framed in blocks.

    ``(count, bytes, unknown)`` per :data:`BLOCK_RECORDS` records: one ``join`` per block,
    not one write per record. ``default`` serialises what orjson does not know. ``unknown``
    (the types of fields outside the schema, when the caller knows them up front, as the
    CSV header tells them) goes with every block.
    """
    nulls = dict.fromkeys(fields)
    dumps = orjson.dumps
    block: list[bytes] = []
    append = block.append
    for record in records:
        try:
            append(dumps({**nulls, **record}, default=default))
        except orjson.JSONEncodeError:  # an integer wider than 64 bits: kept exactly
            append(dumps_exact({**nulls, **record}, default))
        if len(block) >= BLOCK_RECORDS:
            yield Block(len(block), framing.join(block), unknown)
            block = []
            append = block.append
    if block:
        yield Block(len(block), framing.join(block), unknown)


_WIDE_INTEGER = re.compile(rb"[0-9]{19}")
"""A run of digits long enough to be an integer wider than 64 bits (or close to it)."""


def decode_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """The records of a block framed as :data:`LINES`, decoded, for the SDK's record path.

    The pass that framed them already validated each line, gave date-times their offset
    and filled in missing schema fields, so decoding is all that is left. orjson reads an
    integer wider than 64 bits as a float, a changed value: a line with a run of 19
    digits is decoded by the standard library instead, which keeps it exactly (a digit
    run inside a string only costs that line the slower decoder).
    """
    loads = orjson.loads
    wide = _WIDE_INTEGER.search(data) is not None
    for line in data.split(b"\n"):
        if not line:
            continue
        if wide and _WIDE_INTEGER.search(line):
            yield json.loads(line)
        else:
            yield loads(line)


def dumps_exact(record: dict[str, Any], default: Callable[[Any], Any] | None = None) -> bytes:
    """A record as JSON; an integer wider than 64 bits (orjson refuses it) kept exactly."""
    try:
        return orjson.dumps(record, default=default)
    except orjson.JSONEncodeError:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=default)
        return text.encode()
