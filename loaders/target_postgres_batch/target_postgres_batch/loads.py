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
  its loads (another stream's SCHEMA, as the tap sends one before each stream, does not);
- no STATE leaves the target (``_write_state_message``) before every load handed over
  until then is committed, nor does the target end before; a load that failed raises
  there, in the reader's thread, so the target fails and its STATE is not emitted.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class Loads:
    """Loads running in up to ``workers`` threads, ordered per stream; ``workers`` 1: inline."""

    def __init__(self, workers: int) -> None:
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="batch-load") if workers > 1 else None
        )
        self._pending: dict[str, Future] = {}

    def submit(self, stream: str, load: Callable[[], None]) -> None:
        """Start ``load`` after the stream's previous one; inline without threads."""
        if self._pool is None:
            load()
            return
        self.wait({stream})
        self._pending[stream] = self._pool.submit(load)

    def wait(self, streams: set[str] | None = None) -> None:
        """Until the loads of these streams (None: all) are committed; a failure raised."""
        keys = (
            list(self._pending) if streams is None else [s for s in streams if s in self._pending]
        )
        pending = [self._pending.pop(key) for key in keys]
        failure: BaseException | None = None
        for future in pending:
            error = future.exception()
            failure = failure or error
        if failure is not None:
            raise failure
