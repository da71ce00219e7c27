"""The progress line a stream logs while it syncs: at most once per interval, never per record.

A stream calls :meth:`Progress.tick` once per block of records and once per pause while
it waits for a job; a tick costs one clock read unless a line is due. The first tick
logs (the stream has begun); after that a line every ``progress_interval_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tap_activities.report.tally import StreamTally


class Progress:
    """Rate-limited progress lines of one stream."""

    def __init__(
        self,
        logger: logging.Logger,
        tally: StreamTally,
        interval: float,
        jobs: Callable[[], str],
        current_bytes: Callable[[], int],
    ) -> None:
        """``jobs``: the source's job load in words; ``current_bytes``: of the window now read."""
        self.logger = logger
        self.tally = tally
        self.interval = interval
        self._jobs = jobs
        self._current_bytes = current_bytes
        self._due = 0.0

    def tick(self) -> None:
        """Log a progress line if one is due (cheap when not)."""
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.interval
        self.logger.info("%s", self.line(now))

    def line(self, now: float) -> str:
        """``<stream>: progress: 2/5 windows done; <jobs>; 1.2 MB, 3400 records so far; …``."""
        tally = self.tally
        received = tally.bytes + self._current_bytes()
        return (
            f"{tally.stream}: progress: {tally.windows_done}/{tally.windows_total} windows "
            f"done; {self._jobs()}; {received} bytes, {tally.records} records so far; "
            f"{remaining(tally, now)}"
        )


def remaining(tally: StreamTally, now: float) -> str:
    """The time left, from the pace of the windows done so far (or why it is unknown)."""
    left = tally.windows_total - tally.windows_done
    if left <= 0:
        return "no window left"
    if tally.windows_done == 0:
        return "time left unknown until a window is done"
    seconds = tally.seconds(now) / tally.windows_done * left
    return f"about {duration(seconds)} left at the pace of the windows done"


def duration(seconds: float) -> str:
    """``45s``, ``12m05s``, ``3h20m``: a duration for people."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
