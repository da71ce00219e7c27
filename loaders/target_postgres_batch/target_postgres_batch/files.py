"""A BATCH file's bytes, decompressed in chunks: what the fast path COPYs, never decoded here.

The file is found the way singer-sdk's ``Sink.process_batch_files`` finds it (the sink's
``batch_config`` storage, else the storage of the file's own URL, local or fsspec), and
gzip is read the way it reads it (``compression == "gzip"``, anything else as plain
lines), so a manifest loads from the same place whichever path loads it.
"""

from __future__ import annotations

import gzip
import zlib
from typing import TYPE_CHECKING

# singer-sdk's own storage helper (private, but the one its sinks use): the same file
# system, the same parameters, the same URL split as the target's path. A singer-sdk
# release that moves or changes it makes the sink take the target's own path instead
# (storage_problem), never fail.
try:
    from singer_sdk.helpers._batch import StorageTarget
except ImportError:  # pragma: no cover - depends on the installed singer-sdk
    StorageTarget = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from collections.abc import Iterator

CHUNK_BYTES = 1 << 20  # decompressed bytes per COPY write: memory stays at about this


# What chunks() uses of StorageTarget: the class methods, and open() on an instance.
STORAGE_METHODS = ("split_url", "from_url", "open")


class BatchFileError(RuntimeError):
    """A BATCH file that cannot be read whole (missing, truncated, not gzip)."""


def storage_problem(storage_class: type | None = StorageTarget) -> str:
    """Why singer-sdk's storage helper cannot serve chunks(), or '' if it can."""
    if storage_class is None:
        return "singer-sdk has no helpers._batch.StorageTarget"
    missing = [name for name in STORAGE_METHODS if not callable(getattr(storage_class, name, None))]
    if missing:
        return f"singer-sdk's StorageTarget lacks {', '.join(missing)}"
    return ""


def chunks(url: str, compression: str | None, storage: StorageTarget | None) -> Iterator[bytes]:
    """The file's decompressed bytes, CHUNK_BYTES at a time; BatchFileError if unreadable."""
    head, tail = StorageTarget.split_url(url)
    file_storage = storage or StorageTarget.from_url(head)
    try:
        with file_storage.open(tail, mode="rb") as raw:
            reader = gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else raw
            while block := reader.read(CHUNK_BYTES):
                yield block
    except (OSError, EOFError, zlib.error) as exc:
        raise BatchFileError(f"BATCH file {url} cannot be read: {exc}") from exc
