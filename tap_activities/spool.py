"""Blocks prepared by a download worker, parked on disk until the main thread emits them.

A People.ai fragment is validated and turned into output (RECORD lines, or compressed
batch lines) in the worker that downloaded it, while the main thread is still emitting
earlier fragments; the result waits here rather than in memory, so memory stays flat
however far ahead the workers are and however large a fragment is.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

Meta = TypeVar("Meta")


class Spool(Generic[Meta]):
    """An anonymous temporary file of blocks, each with what the reader needs to know of it.

    Anonymous, so nothing is left behind whatever happens to the process; read once, in
    order, and closed by :meth:`read` (or :meth:`close`).
    """

    def __init__(self, directory: Path | None = None) -> None:
        # Closed by read() or close(); a TemporaryFile has no name to leave behind.
        self._file = tempfile.TemporaryFile(  # noqa: SIM115
            prefix="tap-activities-", suffix=".spool", dir=directory
        )
        self._index: list[tuple[int, Meta]] = []

    def add(self, data: bytes, meta: Meta) -> None:
        """Park one block."""
        self._file.write(data)
        self._index.append((len(data), meta))

    def read(self) -> Iterator[tuple[Meta, bytes]]:
        """``(meta, block)`` in the order they were added; the file is gone at the end."""
        with self._file as file:
            file.flush()
            file.seek(0)
            for length, meta in self._index:
                yield meta, file.read(length)

    @property
    def closed(self) -> bool:
        """Whether the file is gone (read to the end, or dropped)."""
        return self._file.closed

    def close(self) -> None:
        """Drop the blocks unread (a failed or abandoned part)."""
        self._file.close()


def spool(blocks: Iterable[tuple[Meta, bytes]], directory: Path | None = None) -> Spool[Meta]:
    """Park ``(meta, block)`` pairs as they come; if producing them fails, drop the file."""
    parked: Spool[Meta] = Spool(directory)
    try:
        for meta, data in blocks:
            parked.add(data, meta)
    except BaseException:
        parked.close()
        raise
    return parked
