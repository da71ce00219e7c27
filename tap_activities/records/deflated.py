"""Deflated blocks: JSON lines compressed on their own, to be laid end to end in one gzip file.

The People.ai download workers compress each block of framed lines as they make it, in
parallel with the tap's output of earlier parts, and park the compressed bytes
(:func:`~tap_activities.records.spooled.deflate_part`); the BATCH writer then lays the
blocks one after another inside a gzip member without compressing anything again
(:meth:`~tap_activities.singer.batch.BatchFileWriter.deflated_manifests`).
"""

from __future__ import annotations

from dataclasses import dataclass

from isal import isal_zlib

from tap_activities.records.contract import FieldTypes

GZIP_LEVEL = 1
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""A gzip member's header: deflate, no name, no time, unknown OS."""
LAST_BLOCK = b"\x03\x00"
"""An empty final deflate block: what ends a member made of sync-flushed pieces."""


@dataclass(frozen=True)
class DeflatedBlock:
    """``count`` JSON lines, compressed on their own as raw deflate ending in a sync flush.

    Such blocks can be laid one after another inside one gzip member (as pigz does):
    each starts a fresh deflate stream on a byte boundary and refers to nothing before it.
    """

    count: int
    data: bytes
    crc: int
    """CRC-32 of the uncompressed lines."""
    size: int
    """Length of the uncompressed lines."""
    unknown: FieldTypes | None = None
    """Types of the fields outside the schema in these lines (``framing.Block``)."""


def deflate(count: int, lines: bytes, unknown: FieldTypes | None = None) -> DeflatedBlock:
    """``lines`` as a :class:`DeflatedBlock` (ISA-L, level 1; it releases the GIL)."""
    packer = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -15)
    data = packer.compress(lines) + packer.flush(isal_zlib.Z_SYNC_FLUSH)
    return DeflatedBlock(count, data, isal_zlib.crc32(lines), len(lines), unknown)
