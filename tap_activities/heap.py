"""The process's memory: freed buffers kept for reuse, and a heap left alone at exit.

Keep freed megabyte buffers in the process instead of handing them back to the kernel.

The fragment pass allocates a few buffers of about 1 MiB for every piece of a fragment
(the bytes read, the piece joined with the previous partial line, the framed output, the
compressed block) and frees them straight away. With glibc's defaults such buffers are
given back to the kernel (unmapped, or trimmed off the top of the heap) and faulted in
again page by page for the next piece: 280,000 page faults and 0.5 s of CPU in a
1,000,000-record BATCH sync, measured with ``perf stat``. Two glibc settings make them
come from the heap and stay there; the heap then holds at most what the process once
used at its peak, a few MiB per process here.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys

LOGGER = logging.getLogger("tap_activities.heap")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter numbers (malloc.h)."""

HEAP_ALLOCATION_LIMIT = 32 << 20
"""Allocations below this come from the heap: buffers of a piece, never a whole fragment."""

KEPT_FREE_BYTES = 64 << 20
"""Free memory at the top of the heap that glibc keeps instead of trimming."""


def keep_freed_buffers() -> bool:
    """Apply the settings to this process (and the workers it forks later).

    Returns whether they were applied: only glibc has ``mallopt``, and elsewhere the
    allocator's defaults stay.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    applied = bool(mallopt(M_MMAP_THRESHOLD, HEAP_ALLOCATION_LIMIT)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    )
    LOGGER.debug("glibc keeps freed buffers: %s", applied)
    return applied


def settle_for_exit() -> None:
    """Collect what is garbage now, then keep the collector off what lives until the exit.

    Python's shutdown runs the cyclic garbage collector several times over every object
    still alive (the SDK's and the tap's modules, classes and functions) while it tears
    the modules down: 50-70 ms at the end of a one-second sync, for memory the process
    is about to hand back whole. Garbage that exists now is still collected here, its
    finalizers run as at the shutdown's first collection; what is alive is then frozen
    (``gc.freeze``), so the shutdown's collections pass it by. The shutdown still runs
    the atexit functions (the Singer writer's last flush, logging's) and clears every
    module; only cycles among objects alive now are left to the end of the process.
    """
    gc.collect()
    gc.freeze()
