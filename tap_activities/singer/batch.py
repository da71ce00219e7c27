"""BATCH mode: records of a window written to gzipped JSONL files for the target to load.

The SDK's JSONL batcher serialises each record with the standard library and compresses at
gzip level 9, which makes the batch files slower to write than RECORD messages. This writer
keeps the SDK's file layout, naming and storage (``batch_config.storage``, any fsspec URL)
but serialises with orjson and compresses at a fast level. Other formats (parquet) go
through the SDK's own batcher unchanged.
"""

from __future__ import annotations

import contextlib
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import orjson
from isal import igzip_threaded, isal_zlib
from singer_sdk.batch import Batcher

from tap_activities.records.deflated import (
    GZIP_HEADER,
    GZIP_LEVEL,
    LAST_BLOCK,
    DeflatedBlock,
    deflate,
)
from tap_activities.records.framing import Block

if TYPE_CHECKING:  # the SDK names these only in a private module: hints, never imports
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig


class BatchFileWriter:
    """Turns a stream of records into batch-file manifests."""

    def __init__(self, config: BatchConfig, tap_name: str, stream_name: str) -> None:
        self.config = config
        self.tap_name = tap_name
        self.stream_name = stream_name
        self._sync_id = f"{tap_name}--{stream_name}-{uuid.uuid4()}"
        self._sequence = 0
        self.records = 0
        """Records in the files written so far (the SDK's ``record_count`` in BATCH mode)."""

    @property
    def writes_lines(self) -> bool:
        """Whether batches are JSON Lines, written from serialised records."""
        return self.config.encoding.format == "jsonl"

    def line_manifests(
        self, blocks: Iterable[Block]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Like :meth:`manifests`, from ``(count, JSON lines, unknown)`` blocks (``Block``).

        Each file holds exactly ``batch_size`` records (the last one fewer); a block is
        cut at a line end where a file is full.
        """
        encoding = self.config.encoding
        compressed = encoding.compression == "gzip"
        for file_blocks in _per_file(blocks, self._batch_size, _line_count, _split_lines):
            filename, url = self._next_file(compressed)
            with self._open(filename, compressed) as out:
                for count, data, _unknown in file_blocks:
                    out.write(data)
                    self.records += count
            yield encoding, [url]

    def deflated_manifests(
        self, blocks: Iterable[DeflatedBlock]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Like :meth:`line_manifests`, from lines already compressed (jsonl.gz only).

        Each file is one gzip member: a header, the blocks' deflate streams as they are,
        an empty last block, and the CRC and length combined from the blocks'. Each file
        holds exactly ``batch_size`` records (the last one fewer); the one block a file
        boundary falls in is inflated, cut at a line end and compressed again.
        """
        encoding = self.config.encoding
        for file_blocks in _per_file(blocks, self._batch_size, _deflated_count, _split_deflated):
            filename, url = self._next_file(compressed=True)
            crc, length = 0, 0
            with self.config.storage.open(filename, "wb") as out:
                out.write(GZIP_HEADER)
                for block in file_blocks:
                    out.write(block.data)
                    self.records += block.count
                    crc = isal_zlib.crc32_combine(crc, block.crc, block.size)
                    length += block.size
                out.write(LAST_BLOCK)
                out.write(struct.pack("<II", crc, length & 0xFFFFFFFF))
            yield encoding, [url]

    @property
    def _batch_size(self) -> int:
        return max(1, self.config.batch_size or 10000)

    def manifests(
        self, records: Iterable[dict[str, Any]]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Yield ``(encoding, [file URL])`` for every ``batch_size`` records."""
        encoding = self.config.encoding
        if encoding.format != "jsonl":
            batcher = Batcher(
                tap_name=self.tap_name, stream_name=self.stream_name, batch_config=self.config
            )
            for manifest in batcher.get_batches(records=self._tallied(records)):
                yield encoding, manifest
            return
        size = self._batch_size
        compressed = encoding.compression == "gzip"
        dumps = orjson.dumps
        iterator = iter(records)
        while True:
            first = next(iterator, None)
            if first is None:
                return
            # Records are serialised as they arrive, never held: a list of parsed records
            # makes the cyclic GC rescan an ever larger heap.
            filename, url = self._next_file(compressed)
            with self._open(filename, compressed) as out:
                out.write(dumps(first, option=orjson.OPT_APPEND_NEWLINE))
                written = 1
                for record in islice(iterator, size - 1):
                    out.write(dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                    written += 1
            self.records += written
            yield encoding, [url]

    def _tallied(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``records`` as they are, counted as the SDK's batcher takes them."""
        for record in records:
            self.records += 1
            yield record

    @property
    def writes_gzip_lines(self) -> bool:
        """Whether batches are gzipped JSON Lines (what :meth:`deflated_manifests` writes)."""
        return self.writes_lines and self.config.encoding.compression == "gzip"

    @contextlib.contextmanager
    def _open(self, filename: str, compressed: bool) -> Iterator[BinaryIO]:
        """A batch file in storage to write lines to, gzipped when ``compressed``.

        The gzip stream is closed (its trailer written) before the file is, also when
        writing fails.
        """
        with self.config.storage.open(filename, "wb") as raw:
            if not compressed:
                yield raw
                return
            out = _gzip_writer(raw)
            try:
                yield out
            finally:
                out.close()

    def _next_file(self, compressed: bool) -> tuple[str, str]:
        self._sequence += 1
        storage = self.config.storage
        suffix = ".json.gz" if compressed else ".json"
        filename = f"{storage.prefix or ''}{self._sync_id}-{self._sequence}{suffix}"
        return filename, storage.get_url(filename)


def _gzip_writer(raw: BinaryIO) -> BinaryIO:
    """A gzip stream over ``raw`` at level 1, compressed by ISA-L in a background thread.

    ISA-L's deflate is several times faster than zlib's at its fastest level, and
    compressing in another thread (which releases the GIL) overlaps it with parsing.
    """
    return igzip_threaded.open(raw, "wb", compresslevel=GZIP_LEVEL, threads=1)  # type: ignore[return-value]


AnyBlock = TypeVar("AnyBlock")


def _per_file(
    blocks: Iterable[AnyBlock],
    size: int,
    count: Callable[[AnyBlock], int],
    split: Callable[[AnyBlock, int], tuple[AnyBlock, AnyBlock]],
) -> Iterator[Iterator[AnyBlock]]:
    """Blocks of records grouped into files of exactly ``size`` records (the last fewer).

    One iterator of blocks per file, lazily, so no file's records are ever held together;
    each must be consumed before the next is asked for. A block a file boundary falls in
    is ``split(block, records that still fit)`` into its head and the rest.
    """
    iterator = iter(blocks)
    pending: AnyBlock | None = None

    def one_file() -> Iterator[AnyBlock]:
        nonlocal pending
        room = size
        while room:
            block = pending if pending is not None else next(iterator, None)
            pending = None
            if block is None:
                return
            if count(block) > room:
                block, pending = split(block, room)
            room -= count(block)
            yield block

    while True:
        while pending is None or not count(pending):
            pending = next(iterator, None)
            if pending is None:
                return
        yield one_file()


def _line_cut(lines: bytes, records: int) -> int:
    """Where the first ``records`` lines of ``lines`` end."""
    cut = 0
    for _ in range(records):
        cut = lines.index(b"\n", cut) + 1
    return cut


def _line_count(block: Block) -> int:
    return block.count


def _split_lines(block: Block, room: int) -> tuple[Block, Block]:
    count, data, unknown = block  # either half may hold the unknown fields: both say so
    cut = _line_cut(data, room)
    return Block(room, data[:cut], unknown), Block(count - room, data[cut:], unknown)


def _deflated_count(block: DeflatedBlock) -> int:
    return block.count


def _split_deflated(block: DeflatedBlock, room: int) -> tuple[DeflatedBlock, DeflatedBlock]:
    lines = _inflate(block.data)
    cut = _line_cut(lines, room)
    unknown = block.unknown
    return deflate(room, lines[:cut], unknown), deflate(block.count - room, lines[cut:], unknown)


def _inflate(data: bytes) -> bytes:
    """A sync-flushed raw deflate stream, decompressed (it has no last block)."""
    return isal_zlib.decompressobj(-15).decompress(data)
