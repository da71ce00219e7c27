"""Blocks of records parked in a spool, between the worker that makes them and their output.

Framed blocks (:class:`~tap_activities.records.framing.Block`) or deflated ones
(:class:`~tap_activities.records.deflated.DeflatedBlock`) wait on disk in a
:class:`~tap_activities.transfer.spool.Spool`, each with what its reader needs to rebuild it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tap_activities.records.contract import FieldTypes
from tap_activities.records.deflated import DeflatedBlock, deflate
from tap_activities.records.framing import Block
from tap_activities.transfer.spool import Spool, spool

BlockMeta = tuple[int, "dict[str, int] | None"]
"""What a spool of framed records keeps per block: its record count and unknown types."""


def spool_blocks(
    blocks: Iterable[tuple[int, bytes, dict[str, int] | None]],
    directory: Path | str | None = None,
) -> Spool[BlockMeta]:
    """Park ``(count, framed records, unknown types)`` blocks (``framing.Block``)."""
    return spool((((count, unknown), data) for count, data, unknown in blocks), directory)


def read_blocks(part: Spool[BlockMeta]) -> Iterator[Block]:
    """The blocks :func:`spool_blocks` parked, in order, as they were given."""
    for (count, unknown), data in part.read():
        yield Block(count, data, unknown)


DeflatedPart = Spool[tuple[int, int, int, "FieldTypes | None"]]
"""A part's compressed blocks, parked by the download worker: ``(count, crc, size, unknown)``."""


def deflate_part(blocks: Iterable[Block], directory: Path | None = None) -> DeflatedPart:
    """Compress ``(count, JSON lines)`` blocks into a spool file, block by block.

    Runs in the download worker, so lines are compressed in parallel with the output
    of earlier parts; only the compressed bytes reach the main thread, and memory holds
    one block at a time whatever the part's size.
    """
    return spool(_compressed(blocks), directory)


def _compressed(
    blocks: Iterable[Block],
) -> Iterator[tuple[tuple[int, int, int, FieldTypes | None], bytes]]:
    """``((count, crc, size, unknown), compressed)`` of each block, as a spool parks them."""
    for count, lines, unknown in blocks:
        block = deflate(count, lines)
        yield (count, block.crc, block.size, unknown), block.data


def read_deflated(part: DeflatedPart) -> Iterator[DeflatedBlock]:
    """The blocks of a part, one at a time, as :func:`deflate_part` compressed them."""
    for (count, crc, size, unknown), data in part.read():
        yield DeflatedBlock(count, data, crc, size, unknown)
