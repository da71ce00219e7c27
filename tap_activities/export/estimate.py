"""How long the next sync takes: the upstream's job limits, and what earlier runs measured.

Each stream's state may keep a short ``history`` of its last windows (newest last), as the
sync measured them::

    {"window": "2024-01-01..2024-01-14", "export_type": "delta", "days": 14,
     "job_seconds": 95.0, "download_seconds": 3.2, "bytes": 812345, "records": 4100}

From it, a window of the next run is timed as the shortest ``job_seconds`` of that
stream's windows of the same export type (of any type when none): a measured job also
waited for a free slot behind the run's other jobs, and playing the run out (below) adds
that wait itself; and no longer than its source's shortest (a job's time is the
upstream's). Plus its days times their ``download_seconds`` per day. A stream with no
history of its own borrows its source's other streams' measurements. The run is then
played out as the tap runs it: each source's jobs start in the order the streams will
consume them, ``slots`` at a time (People.ai: 2 running), and windows are downloaded one
after another, each once its job is done. The estimate is when the last window is out; the
limit that decides it is the one the downloads waited on longest, or the downloads
themselves when they never waited more than they worked. Without any history there are no
seconds to give, only the bound: each source needs at least ``ceil(windows / slots)``
rounds of one job's duration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tap_activities.export.job_limits import JobLimits

DOWNLOADS = "downloads"
"""What decides the estimate when the downloads never waited for jobs more than they ran."""


@dataclass(frozen=True)
class Timing:
    """What earlier runs measured, per export type (None: ChartMogul's one kind)."""

    job_seconds: Mapping[str | None, float]
    """Shortest seconds from a job's creation to its completion, per export type."""
    download_per_day: Mapping[str | None, float]
    """Seconds to download and emit one day of the window."""
    windows: int
    """How many measured windows this is based on."""

    def window(self, export_type: str | None, days: int) -> tuple[float, float]:
        """Job seconds and download seconds of one window of ``days`` days."""
        job = self.job_seconds.get(export_type, _mean(self.job_seconds.values()))
        per_day = self.download_per_day.get(export_type, _mean(self.download_per_day.values()))
        return job, per_day * days


def timing_of(history: Any) -> Timing | None:
    """The measurements kept in a stream's ``history``; None when there are none usable."""
    entries = [e for e in (history if isinstance(history, list) else []) if _usable(e)]
    if not entries:
        return None
    jobs: dict[str | None, list[float]] = {}
    seconds: dict[str | None, float] = {}
    days: dict[str | None, int] = {}
    for entry in entries:
        kind = entry.get("export_type")
        jobs.setdefault(kind, []).append(float(entry["job_seconds"]))
        seconds[kind] = seconds.get(kind, 0.0) + float(entry["download_seconds"])
        days[kind] = days.get(kind, 0) + int(entry["days"])
    return Timing(
        job_seconds={kind: min(values) for kind, values in jobs.items()},
        download_per_day={kind: seconds[kind] / days[kind] for kind in seconds},
        windows=len(entries),
    )


def _usable(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return False
    numbers = [entry.get(k) for k in ("job_seconds", "download_seconds", "days")]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        return False
    return numbers[2] > 0 and numbers[0] >= 0 and numbers[1] >= 0


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def pooled(timings: Sequence[Timing]) -> Timing | None:
    """One source's streams' measurements together (for a stream without its own)."""
    if not timings:
        return None
    kinds = {kind for t in timings for kind in t.job_seconds}
    return Timing(
        job_seconds={
            k: min(t.job_seconds[k] for t in timings if k in t.job_seconds) for k in kinds
        },
        download_per_day={
            k: _mean(t.download_per_day[k] for t in timings if k in t.download_per_day)
            for k in kinds
        },
        windows=sum(t.windows for t in timings),
    )


@dataclass(frozen=True)
class PlannedJob:
    """One window of the next run as the estimate sees it."""

    stream: str
    source: str
    export_type: str | None
    days: int


@dataclass(frozen=True)
class Estimate:
    """The next run's duration, or only its bound when nothing was measured."""

    seconds: float | None
    """When the last window is out; None without history for every source concerned."""
    per_stream: Mapping[str, float | None]
    """When each stream's last window is out, from the start of the run (seconds)."""
    decided_by: str | None
    """A source name (its job limit decides) or ``downloads``; None without seconds."""
    rounds: Mapping[str, int]
    """Per source: windows / jobs at once, rounded up: the bound the limits set."""


def estimate(
    jobs: Sequence[PlannedJob],
    timings: Mapping[str, Timing | None],
    limits: Mapping[str, JobLimits],
) -> Estimate:
    """Play the run out (see the module's docstring); ``timings`` by stream name."""
    rounds: dict[str, int] = {}
    for job in jobs:
        rounds[job.source] = rounds.get(job.source, 0) + 1
    rounds = {s: math.ceil(n / limits[s].slots) for s, n in rounds.items()}
    by_source: dict[str, list[Timing]] = {}
    for job in jobs:
        own = timings.get(job.stream)
        if own is not None and own not in by_source.setdefault(job.source, []):
            by_source[job.source].append(own)
    timed = []
    for job in jobs:
        source_timing = pooled(by_source.get(job.source, []))
        timing = timings.get(job.stream) or source_timing
        if timing is None or source_timing is None:
            streams = dict.fromkeys(j.stream for j in jobs)
            return Estimate(None, dict.fromkeys(streams), None, rounds)
        job_seconds, download_seconds = timing.window(job.export_type, job.days)
        fastest, _ = source_timing.window(job.export_type, job.days)
        timed.append((job, min(job_seconds, fastest), download_seconds))
    return _played_out(timed, limits, rounds)


def _played_out(
    timed: Sequence[tuple[PlannedJob, float, float]],
    limits: Mapping[str, JobLimits],
    rounds: Mapping[str, int],
) -> Estimate:
    """Jobs ``slots`` at a time per source, in order; downloads one after another."""
    slots: dict[str, list[float]] = {s: [0.0] * limits[s].slots for s in rounds}
    clock = 0.0
    waited: dict[str, float] = {}
    working = 0.0
    per_stream: dict[str, float | None] = {}
    for job, job_seconds, download_seconds in timed:
        free = slots[job.source]
        start = min(free)
        done = start + job_seconds
        free[free.index(start)] = done
        if done > clock:
            waited[job.source] = waited.get(job.source, 0.0) + done - clock
        clock = max(clock, done) + download_seconds
        working += download_seconds
        per_stream[job.stream] = clock
    longest = max(waited, key=waited.__getitem__) if waited else None
    decided = longest if longest and waited[longest] > working else DOWNLOADS
    return Estimate(round(clock, 1), per_stream, decided if timed else None, rounds)
