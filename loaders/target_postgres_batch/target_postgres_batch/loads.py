"""BATCH messages of different tables loaded at once; STATE only after all of them.

One target process reads the tap's messages one after another, and a stock target loads
each BATCH message before reading the next: with the fast path the time is PostgreSQL's,
one backend at a time. Here a BATCH message is handed to a thread with a connection of its
own, and the reader goes on, so the tables of several streams load at once (on a machine
with more cores, on more of them), while the tap is still writing the next files.

What keeps this exactly the stock target's result:

- messages of one stream load in their order (a new one waits for the previous one): the
  last record of a key still wins across messages;
- every other message of a stream (SCHEMA, RECORD, ACTIVATE_VERSION) waits until that
  stream's loads are committed, so its table's changes and its record path never overlap
  its loads (another stream's SCHEMA, as a tap may send one before each stream, does not);
- no STATE leaves the target (``_write_state_message``) before every load handed over
  until then is committed, nor does the target end before; loads that failed raise there,
  in the reader's thread, naming every failed stream, so the target fails and its STATE
  is not emitted.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class LoadsFailedError(RuntimeError):
    """Loads of several streams failed: each is named, the first is the cause."""


class Loads:
    """Loads running in up to ``workers`` threads, ordered per stream; ``workers`` 1: inline."""

    def __init__(self, workers: int) -> None:
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="batch-load") if workers > 1 else None
        )
        self._pending: dict[str, Future] = {}

    @property
    def threaded(self) -> bool:
        """Whether loads run beside the reader (else each before the next message is read)."""
        return self._pool is not None

    def submit(self, stream: str, load: Callable[[], None]) -> None:
        """Start ``load`` after the stream's previous one; inline without threads."""
        if self._pool is None:
            load()
            return
        self.wait({stream})
        self._pending[stream] = self._pool.submit(load)

    def wait(self, streams: set[str] | None = None) -> None:
        """Until the loads of these streams (None: all) are done; failures raised.

        One failed load raises its own error; several raise one error naming each stream
        and its error, caused by the first.
        """
        keys = (
            list(self._pending) if streams is None else [s for s in streams if s in self._pending]
        )
        pending = {key: self._pending.pop(key) for key in keys}
        failures = {key: error for key, f in pending.items() if (error := f.exception())}
        if len(failures) == 1:
            raise next(iter(failures.values()))
        if failures:
            named = "; ".join(f"{key}: {type(e).__name__}: {e}" for key, e in failures.items())
            raise LoadsFailedError(
                f"BATCH loads of {len(failures)} streams failed: {named}"
            ) from next(iter(failures.values()))
