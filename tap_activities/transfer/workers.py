"""Worker processes for the CPU-bound passes over downloaded export parts.

Validating, null-filling, framing and compressing a People.ai fragment, or typing and
framing a range of a ChartMogul CSV, is Python work under the GIL: done in the download
threads, it uses one core however many the machine has. A few forked worker processes put
the other cores to work. They are forked once, when a sync starts and the tap has no other
thread yet (forking a threaded process can copy a lock some other thread holds, and the
child would wait on it forever), so they inherit every module already imported and cost
milliseconds to start. Work and results travel as file names and small indexes (see
:mod:`tap_activities.transfer.spool`), never as record data.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

LOGGER = logging.getLogger("tap_activities.workers")
PARENT_CHECK_SECONDS = 0.5

T = TypeVar("T")


class WorkersBusyError(Exception):
    """Every worker process is taken, and the caller asked not to wait."""


class WorkerPool:
    """Runs a function in a worker process if there are any, else in the calling thread."""

    def __init__(self, pool: ProcessPoolExecutor | None = None, processes: int = 0) -> None:
        self._pool = pool
        self._processes = processes if pool is not None else 0
        # Calls through run() hold a slot while they are in a worker, so a caller can
        # tell whether one is free right now (run(..., wait=False)).
        self._free = threading.BoundedSemaphore(self._processes) if pool is not None else None

    @classmethod
    def start(cls, processes: int) -> WorkerPool:
        """Fork ``processes`` workers now, if that is safe here; otherwise run in threads.

        Forking needs Linux (elsewhere the "fork" start method is unsafe or missing) and
        no thread but this one.
        """
        if processes < 1:
            return cls()
        if not sys.platform.startswith("linux") or threading.active_count() > 1:
            LOGGER.debug("no worker processes: not Linux, or threads already running")
            return cls()
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        # Objects that exist now stay shared with the workers: frozen, the workers'
        # garbage collector never writes to them, which would copy every page they sit
        # on into each worker (memory growing with the run, not with the work).
        gc.freeze()
        try:
            pool.submit(int).result()  # fork them all now, while this is the only thread
        finally:
            gc.unfreeze()
        LOGGER.debug("%d worker process(es) started", processes)
        return cls(pool, processes)

    @property
    def uses_processes(self) -> bool:
        """Whether work goes to worker processes."""
        return self._pool is not None

    def run(self, function: Callable[..., T], *args: Any, wait: bool = True) -> T:
        """``function(*args)`` in a worker process (waiting for it), or here.

        ``function`` must be a module-level function; its arguments and result are
        pickled. If the pool has broken (a worker was killed, say by the OOM killer),
        the work is done here instead, with a warning. With ``wait=False``, raise
        :class:`WorkersBusyError` at once if every worker process is taken by another call;
        without processes the call always runs here.
        """
        pool, free = self._pool, self._free
        if pool is None or free is None:
            return function(*args)
        if not free.acquire(blocking=wait):
            raise WorkersBusyError
        try:
            try:
                future = pool.submit(function, *args)
            except BrokenProcessPool:
                future = Future()
                future.set_exception(BrokenProcessPool())
            return self._result(future, args, function)
        finally:
            free.release()

    def ordered(
        self,
        function: Callable[..., T],
        argument_lists: Iterable[tuple[Any, ...]],
        discard: Callable[[T], None] | None = None,
    ) -> Iterator[T]:
        """``function(*arguments)`` for each, results in order, computed in parallel.

        At most one more call than there are processes is in flight, so results that
        wait (files on disk) stay few. Results computed but never handed out, because
        the caller stopped early or one call failed, are given to ``discard``. Without
        worker processes the calls run here, one at a time, as they are asked for.
        """
        pool = self._pool
        if pool is None:
            for arguments in argument_lists:
                yield function(*arguments)
            return
        pending: deque[tuple[Future[T], tuple[Any, ...]]] = deque()
        try:
            for arguments in argument_lists:
                pending.append((pool.submit(function, *arguments), arguments))
                if len(pending) > self._processes:
                    yield self._result(*pending.popleft(), function)
            while pending:
                yield self._result(*pending.popleft(), function)
        finally:
            for future, _arguments in pending:
                future.cancel()
            for future, _arguments in pending:
                if not future.cancelled() and discard is not None:
                    with contextlib.suppress(Exception):
                        discard(future.result())

    def _result(
        self, future: Future[T], arguments: tuple[Any, ...], function: Callable[..., T]
    ) -> T:
        try:
            return future.result()
        except BrokenProcessPool:
            LOGGER.warning("a worker process died; going on in threads")
            self._pool = None
            return function(*arguments)

    def close(self) -> None:
        """Stop the workers (any work still queued is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _worker_init(parent: int) -> None:
    """In each worker: leave Ctrl-C to the tap, and exit if the tap is gone.

    A forked worker holds both ends of its task pipe, so it never sees the tap die; it
    would wait for work forever if the tap were killed (SIGKILL, OOM).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
