"""Bytes prepared by a worker, parked on disk until the main thread emits them.

A part of an export (a People.ai fragment, a range of a ChartMogul CSV) is turned into
output by a worker (a download thread, or a worker process) while the main thread is
still emitting earlier parts; the result waits here rather than in memory, so memory
stays flat however far ahead the workers are and however large a part is.
A spool is handed from the worker that fills it to the thread that reads it by name
(:meth:`Spool.handoff`, :meth:`Spool.adopt`), which works across processes too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

Meta = TypeVar("Meta")

Handoff = tuple[str, list[tuple[int, Meta]]]
"""A filled spool on its way to its reader: its file's name and its index."""


class Spool(Generic[Meta]):
    """A temporary file of blocks, each with what the reader needs to know of it.

    Read once, in order; the file is deleted as soon as its reader has it open, so it
    is gone once read, or dropped (:meth:`close`).
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        handle, self._path = tempfile.mkstemp(
            prefix="tap-activities-", suffix=".spool", dir=directory
        )
        self._file = os.fdopen(handle, "w+b")
        self._index: list[tuple[int, Meta]] = []

    @classmethod
    def adopt(cls, path: str, index: list[tuple[int, Meta]]) -> Spool[Meta]:
        """Take over a spool another worker filled and handed off, for reading."""
        spool = cls.__new__(cls)
        spool._path = path
        spool._file = open(path, "rb")  # noqa: SIM115 - closed by read() or close()
        spool._index = index
        Path(path).unlink()  # open already: readable until closed, never left behind
        return spool

    def add(self, data: bytes, meta: Meta) -> None:
        """Park one block."""
        self._file.write(data)
        self._index.append((len(data), meta))

    def handoff(self) -> Handoff[Meta]:
        """Close the filled spool and describe it for :meth:`adopt`."""
        self._file.close()
        return self._path, self._index

    def read(self) -> Iterator[tuple[Meta, bytes]]:
        """``(meta, block)`` in the order they were added; the file is gone at the end."""
        try:
            self._file.seek(0)
            for length, meta in self._index:
                yield meta, self._file.read(length)
        finally:
            self.close()

    @property
    def closed(self) -> bool:
        """Whether the file is closed (read to the end, handed off, or dropped)."""
        return self._file.closed

    def close(self) -> None:
        """Drop the blocks unread (a failed or abandoned part)."""
        self._file.close()
        Path(self._path).unlink(missing_ok=True)


def spool(blocks: Iterable[tuple[Meta, bytes]], directory: Path | str | None = None) -> Spool[Meta]:
    """Park ``(meta, block)`` pairs as they come; if producing them fails, drop the file."""
    parked: Spool[Meta] = Spool(directory)
    try:
        for meta, data in blocks:
            parked.add(data, meta)
    except BaseException:
        parked.close()
        raise
    return parked
