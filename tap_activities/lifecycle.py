"""How the tap stops: at once on SIGTERM or SIGINT, and quietly when its target went away.

The SDK's own handler writes a last STATE message to stdout and exits 0. When the target
has stopped reading, that write blocks for ever, so the signal never ends the tap; and exit
0 tells an orchestrator that an interrupted run succeeded. Here a signal ends the process
at once with ``128 + signal`` (143 for SIGTERM, 130 for SIGINT), writing nothing more to
stdout: the last STATE the target received was written after every record before it, so
it stays the one to resume from (the next run picks up kept jobs and unfinished windows).

A closed stdout (the target died) is one line on stderr and exit 1, without the tracebacks
Python prints when it flushes a dead pipe on its way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

from tap_activities.log_lines import rendered

PREFIX = "tap-activities: error:"


def install_stop_handlers() -> None:
    """Replace the SDK's SIGTERM and SIGINT handlers (main thread only, as signals are)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _stop)


def _stop(signum: int, _frame: FrameType | None) -> None:
    """End the process now: worker processes see it gone and exit within a second."""
    name = signal.Signals(signum).name
    _say(
        f"{PREFIX} stopped by {name}; the last STATE message written stays valid, "
        "the next run resumes from it"
    )
    os._exit(128 + signum)


def target_gone() -> NoReturn:
    """The target closed stdout: say so once, and leave without touching stdout again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush into a dead pipe
    _say(
        f"{PREFIX} the target stopped reading (stdout closed); the last STATE message it "
        "received stays valid"
    )
    os._exit(1)


def _say(line: str) -> None:
    """One line on stderr, written directly (no lock a signal could find held).

    At error level in meltano's structured log, as the CLI's errors (:mod:`.log_lines`).
    """
    with contextlib.suppress(OSError, ValueError):
        os.write(sys.stderr.fileno(), (rendered(line) + "\n").encode())
