"""BATCH mode: records of a window written to gzipped JSONL files for the target to load.

The SDK's JSONL batcher serialises each record with the standard library and compresses at
gzip level 9, which makes the batch files slower to write than RECORD messages. This writer
keeps the SDK's file layout, naming and storage (``batch_config.storage``, any fsspec URL)
but serialises with orjson and compresses at a fast level. Other formats (parquet) go
through the SDK's own batcher unchanged.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, BinaryIO

import orjson
from singer_sdk.batch import Batcher
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

GZIP_LEVEL = 1


class BatchFileWriter:
    """Turns a stream of records into batch-file manifests."""

    def __init__(self, config: BatchConfig, tap_name: str, stream_name: str) -> None:
        self.config = config
        self.tap_name = tap_name
        self.stream_name = stream_name
        self._sync_id = f"{tap_name}--{stream_name}-{uuid.uuid4()}"
        self._sequence = 0

    @property
    def writes_lines(self) -> bool:
        """Whether batches are JSON Lines, written from serialised records."""
        return self.config.encoding.format == "jsonl"

    def line_manifests(
        self, blocks: Iterable[tuple[int, bytes]]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Like :meth:`manifests`, from ``(count, JSON lines)`` blocks of serialised records.

        Each file holds exactly ``batch_size`` records (the last one fewer); a block is
        cut at a line end where a file is full.
        """
        encoding = self.config.encoding
        size = max(1, self.config.batch_size or 10000)
        compressed = encoding.compression == "gzip"
        pending: tuple[int, bytes] = (0, b"")
        iterator = iter(blocks)
        while True:
            if not pending[0]:
                pending = next(iterator, (0, b""))
                if not pending[0]:
                    return
            filename, url = self._next_file(compressed)
            with self.config.storage.open(filename, "wb") as raw:
                out = _gzip_writer(raw) if compressed else raw
                try:
                    room = size
                    while room:
                        if not pending[0]:
                            pending = next(iterator, (0, b""))
                            if not pending[0]:
                                break
                        count, data = pending
                        if count <= room:
                            out.write(data)
                            room -= count
                            pending = (0, b"")
                        else:
                            cut = 0
                            for _ in range(room):
                                cut = data.index(b"\n", cut) + 1
                            out.write(memoryview(data)[:cut])
                            pending = (count - room, data[cut:])
                            room = 0
                finally:
                    if compressed:
                        out.close()
            yield encoding, [url]

    def manifests(
        self, records: Iterable[dict[str, Any]]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Yield ``(encoding, [file URL])`` for every ``batch_size`` records."""
        encoding = self.config.encoding
        if encoding.format != "jsonl":
            batcher = Batcher(
                tap_name=self.tap_name, stream_name=self.stream_name, batch_config=self.config
            )
            for manifest in batcher.get_batches(records=iter(records)):
                yield encoding, manifest
            return
        size = max(1, self.config.batch_size or 10000)
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
            with self.config.storage.open(filename, "wb") as raw:
                out = _gzip_writer(raw) if compressed else raw
                try:
                    out.write(dumps(first, option=orjson.OPT_APPEND_NEWLINE))
                    for record in islice(iterator, size - 1):
                        out.write(dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                finally:
                    if compressed:
                        out.close()
            yield encoding, [url]

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
    Without the ``isal`` package, the standard library's gzip at level 1.
    """
    try:
        from isal import igzip_threaded
    except ImportError:  # pragma: no cover - isal is a dependency; this is a safety net
        return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL)  # type: ignore[return-value]
    return igzip_threaded.open(raw, "wb", compresslevel=GZIP_LEVEL, threads=1)  # type: ignore[return-value]
