"""The run's figures, per stream: counted where the work happens, read by the report.

Counters move per job, per window, per block of records, never per record: the job
scheduler's thread counts jobs and 429 answers, the stream's thread windows, bytes,
records and time. One lock guards them, since the two threads write at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

JOB_KINDS = ("created", "resumed", "recreated")
"""How a window got its job: created, resumed from state, or created again after its
job failed, was canceled, timed out or expired."""


@dataclass
class StreamTally:
    """One stream's figures so far."""

    stream: str
    source: str = ""
    windows_total: int = 0
    windows_done: int = 0
    jobs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(JOB_KINDS, 0))
    waits_429: int = 0
    """Job creations the upstream refused with 429 (or a use-limit answer): waits."""
    wait_seconds: float = 0.0
    """Time the stream waited for the upstream to finish a job it needed next."""
    bytes: int = 0
    """Bytes downloaded of the windows done, each part counted once."""
    records: int = 0
    """Records emitted (RECORD messages, or records written to BATCH files)."""
    new_fields: list[str] = field(default_factory=list)
    planned: bool = False
    """Whether the stream planned its windows in this run (only those are reported)."""
    started: float | None = None
    """Monotonic time the stream began to sync (None: not yet)."""
    ended: float | None = None

    def seconds(self, now: float | None = None) -> float:
        """Time since the stream began to sync, up to its end."""
        if self.started is None:
            return 0.0
        end = self.ended if self.ended is not None else (now or time.monotonic())
        return max(0.0, end - self.started)

    def work_seconds(self, now: float | None = None) -> float:
        """Time spent downloading and emitting: the stream's time less its waits."""
        return max(0.0, self.seconds(now) - self.wait_seconds)


class RunReport:
    """Every stream's :class:`StreamTally`, and the source-wide figures, for one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, StreamTally] = {}

    def stream(self, name: str) -> StreamTally:
        """The tally of stream ``name`` (created on first use, in the order of first use)."""
        with self._lock:
            tally = self._tallies.get(name)
            if tally is None:
                tally = self._tallies[name] = StreamTally(name)
            return tally

    def job(self, stream: str, how: str) -> None:
        """A window of ``stream`` got a job: ``how`` is one of :data:`JOB_KINDS`."""
        tally = self.stream(stream)
        with self._lock:
            tally.jobs[how] += 1

    def refused(self, stream: str) -> None:
        """The upstream answered a job creation of ``stream`` with 429: a wait."""
        tally = self.stream(stream)
        with self._lock:
            tally.waits_429 += 1

    @property
    def streams(self) -> list[StreamTally]:
        """The tallies of streams that planned windows, in the order they were planned."""
        with self._lock:
            return [t for t in self._tallies.values() if t.planned]
