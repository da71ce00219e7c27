"""The end of a run: one summary line per stream and a total, and the same as METRIC lines.

The METRIC lines go through singer-sdk's metrics machinery (:mod:`singer_sdk.metrics`:
its ``Counter``, ``Point`` and ``log`` on the ``singer_sdk.metrics`` logger), so they read
as the SDK's own ``record_count``: ``METRIC: {"type": …, "metric": …, "value": …,
"tags": {…}}``, and as JSON objects under meltano's structured logging.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Iterable
from typing import Any

from singer_sdk import metrics

from tap_activities.report.progress import duration
from tap_activities.report.tally import JOB_KINDS, StreamTally


class ExportMetric(str, enum.Enum):
    """The tap's own metric names (the SDK's ``Metric`` holds only its own)."""

    WINDOWS = "export_windows"
    JOBS = "export_jobs"
    BYTES = "export_bytes"
    RATE_LIMIT_WAITS = "rate_limit_waits"
    NEW_FIELDS = "new_fields"
    UPSTREAM_WAIT = "upstream_wait_seconds"
    WORK = "export_work_seconds"


METRICS_DOC = (
    ("export_windows", "counter", "stream, source", "windows done"),
    ("export_jobs", "counter", "stream, source, how", "jobs by how the window got them"),
    ("export_bytes", "counter", "stream, source", "bytes downloaded"),
    ("rate_limit_waits", "counter", "stream, source", "job creations answered 429"),
    ("new_fields", "counter", "stream, source", "fields declared beyond the schema"),
    ("upstream_wait_seconds", "timer", "stream, source", "time waiting for jobs"),
    ("export_work_seconds", "timer", "stream, source", "time downloading and emitting"),
)
"""Name, type, tags and meaning of every metric above (the documentation's table)."""


def stream_line(tally: StreamTally) -> str:
    """One stream's summary, in words and figures."""
    jobs = tally.jobs
    fields = f" ({', '.join(tally.new_fields)})" if tally.new_fields else ""
    return (
        f"{tally.stream}: {tally.windows_done}/{tally.windows_total} windows; jobs "
        f"{jobs['created']} created, {jobs['resumed']} resumed, {jobs['recreated']} "
        f"re-created; waited {duration(tally.wait_seconds)} for the upstream, worked "
        f"{duration(tally.work_seconds())}; {tally.bytes} bytes downloaded; "
        f"{tally.records} records emitted; {len(tally.new_fields)} new fields{fields}; "
        f"{tally.waits_429} 429 waits"
    )


def total(tallies: Iterable[StreamTally]) -> StreamTally:
    """The sum of every stream's figures."""
    out = StreamTally("total")
    seconds = 0.0
    for tally in tallies:
        out.windows_total += tally.windows_total
        out.windows_done += tally.windows_done
        for kind in JOB_KINDS:
            out.jobs[kind] += tally.jobs[kind]
        out.waits_429 += tally.waits_429
        out.wait_seconds += tally.wait_seconds
        out.bytes += tally.bytes
        out.records += tally.records
        out.new_fields += [f"{tally.stream}.{name}" for name in tally.new_fields]
        seconds += tally.seconds()
    out.started, out.ended = 0.0, seconds  # streams sync one after the other
    return out


def log_summary(logger: logging.Logger, tallies: list[StreamTally]) -> None:
    """The end-of-run block: a line per stream, then the total."""
    if not tallies:
        return
    logger.info("Run summary:")
    for tally in tallies:
        logger.info("  %s", stream_line(tally))
    logger.info("  %s", stream_line(total(tallies)))


def log_metrics(tally: StreamTally) -> None:
    """The stream's figures as METRIC lines, through the SDK's metrics logger."""
    tags: dict[str, Any] = {metrics.Tag.STREAM: tally.stream, "source": tally.source}
    counts = (
        (ExportMetric.WINDOWS, tally.windows_done, {}),
        *((ExportMetric.JOBS, tally.jobs[kind], {"how": kind}) for kind in JOB_KINDS),
        (ExportMetric.BYTES, tally.bytes, {}),
        (ExportMetric.RATE_LIMIT_WAITS, tally.waits_429, {}),
        (ExportMetric.NEW_FIELDS, len(tally.new_fields), {}),
    )
    for metric, value, more in counts:
        with metrics.Counter(metric, {**tags, **more}) as counter:  # type: ignore[arg-type]
            counter.increment(value)
    logger = metrics.get_metrics_logger()
    for metric, seconds in (
        (ExportMetric.UPSTREAM_WAIT, tally.wait_seconds),
        (ExportMetric.WORK, tally.work_seconds()),
    ):
        timer_tags = {**tags, metrics.Tag.PID: os.getpid()}  # as the SDK's meters tag theirs
        point = metrics.Point("timer", metric, round(seconds, 3), timer_tags)  # type: ignore[arg-type]
        metrics.log(logger, point)
