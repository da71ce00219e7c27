"""A BATCH file opened where singer-sdk's sinks open it, and its bytes for COPY, in chunks.

The file is found the way singer-sdk's ``Sink.process_batch_files`` finds it (the sink's
``batch_config`` storage, else the storage of the file's own URL, local or fsspec), and
gzip is read the way it reads it (``compression == "gzip"``, anything else as plain
lines), so a manifest loads from the same place whichever path loads it.
``singer_sdk.helpers._batch.StorageTarget`` is private: guard.py checks it when the target
starts, and it is looked up here at each use, not at import.
"""

from __future__ import annotations

import gzip
import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers import _batch

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

CHUNK_BYTES = 1 << 20  # decompressed bytes per COPY write: memory stays at about this


class BatchFileError(RuntimeError):
    """A BATCH file that cannot be read whole (missing, truncated, not gzip)."""


@contextmanager
def open_batch_file(url: str, storage: Any) -> Iterator[BinaryIO]:
    """The file at ``url``, opened for reading bytes as singer-sdk's sinks open it."""
    head, tail = _batch.StorageTarget.split_url(url)
    file_storage = storage or _batch.StorageTarget.from_url(head)
    with file_storage.open(tail, mode="rb") as raw:
        yield raw


def chunks(url: str, compression: str | None, storage: Any) -> Iterator[bytes]:
    """The file's decompressed bytes, CHUNK_BYTES at a time; BatchFileError if unreadable."""
    try:
        with open_batch_file(url, storage) as raw:
            reader = gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else raw
            while block := reader.read(CHUNK_BYTES):
                yield block
    except (OSError, EOFError, zlib.error) as exc:
        raise BatchFileError(f"BATCH file {url} cannot be read: {exc}") from exc
