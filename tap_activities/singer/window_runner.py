"""The stream core's windows: every activity stream is a sequence of export windows.

Each source's stream classes (``sources/*/streams.py``) say how it plans its windows. A
stream plans its windows from its bookmark, submits them to its source's shared job
scheduler, then, window after window, waits for the job, emits the records and only then
moves the bookmark and emits a STATE message. State per stream::

    {"bookmark": "2024-05-01",      # last UTC day whose export is fully emitted
     "mode": "snapshot" | "delta",  # People.ai: which kind of export that day refers to
     "delta_start": "2024-05-01",   # People.ai, while building history: first delta day
     "jobs": {"2024-05-02..2024-05-15": {"job_id": "...", "export_type": "delta"}},
     "history": [...]}              # what each window done measured (report.history)

(and what :mod:`.planning` keeps: where history began, backfills and re-syncs done).
``jobs`` keeps the upstream ids of exports created but not yet emitted (of every stream,
since jobs are created ahead for streams that sync later), so an interrupted run picks
them up instead of exporting the same window again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tap_activities.errors import ExportExpiredError
from tap_activities.export.request import ExportRequest, ExportTicket
from tap_activities.export.status import JobSnapshot
from tap_activities.export.windows import Window
from tap_activities.report import history
from tap_activities.report.progress import Progress
from tap_activities.report.tally import StreamTally
from tap_activities.singer.planning import (
    SYNC,
    PlannedWindow,
    StreamPlan,
    WindowPlan,
    extra_window_done,
    plan_stream,
    state_date,
    utc_today,
)
from tap_activities.singer.sdk_hooks import SdkStreamHooks

if TYPE_CHECKING:
    from tap_activities.export.runtime import SourceRuntime
    from tap_activities.settings import Settings

EXPIRED_EXPORT_ATTEMPTS = 3
T = TypeVar("T")


class WindowRunner(SdkStreamHooks):
    """A stream's windows: planned once, their jobs waited for in order, state after each."""

    source_name: ClassVar[str]
    activity_type: ClassVar[str]
    history_export_type: ClassVar[str | None] = None
    """The export type that selects by activity date: backfills and re-syncs use it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tickets: list[ExportTicket] | None = None
        self._planned: list[PlannedWindow] = []  # the tickets' windows, index for index
        self.history_kept_from: str | None = None  # loaded history's first day, if kept
        self._next_window = 0  # index of the first ticket not yet emitted
        self._progress: Progress | None = None
        self._current_job: str | None = None  # the job whose data is being read
        self._window_count = 0  # records of the window being emitted

    # Planning and running -------------------------------------------------------------------

    @property
    def runtime(self) -> SourceRuntime:
        """The source's client and scheduler, shared by every stream of the source."""
        return self.parent_tap.runtime(self.source_name)

    @classmethod
    def plan_windows(
        cls, state: Mapping[str, Any], settings: Settings, today: dt.date
    ) -> WindowPlan:
        """This run's windows, from the stream's state as loaded; ``today``: the UTC date."""
        raise NotImplementedError

    def window_done(self, state: dict, window: Window, export_type: str | None, last: bool) -> None:
        """Move the bookmark after a window's records are all out."""
        state["bookmark"] = window.end.isoformat()

    def next_plan(self, today: dt.date | None = None) -> StreamPlan:
        """The next sync's windows from the state as loaded (``--plan`` and :meth:`plan`)."""
        return plan_stream(
            type(self), self.stream_state, self.parent_tap.settings, today or utc_today()
        )

    def plan(self) -> list[ExportTicket]:
        """Submit this run's windows to the scheduler once; later calls return the tickets."""
        if self._tickets is None:
            planned = self.next_plan()
            planned.record(self.stream_state)
            self.history_kept_from = planned.history_kept_from
            self._planned = planned.windows
            self._tickets = [
                self.runtime.scheduler.submit(
                    ExportRequest(
                        stream=self.name,
                        activity_type=self.activity_type,
                        window=window.window,
                        export_type=window.export_type,
                        resume_job_id=window.resume_job_id,
                    )
                )
                for window in planned.windows
            ]
            tally = self.tally
            tally.source, tally.windows_total, tally.planned = (
                self.source_name,
                len(planned.windows),
                True,
            )
            self._log_plan(planned)
        return self._tickets

    def _log_plan(self, planned: StreamPlan) -> None:
        """One line: how many windows, which days, which export types and purposes."""
        windows = planned.windows
        if not windows:
            bookmark = self.stream_state.get("bookmark")
            self.logger.info("%s: nothing to export (bookmark %s)", self.name, bookmark)
            return
        kinds = sorted({w.export_type or "export" for w in windows})
        extra = sorted({w.purpose for w in windows} - {SYNC})
        self.logger.info(
            "%s: %d window(s) %s..%s (%s)%s",
            self.name,
            len(windows),
            min(w.window.start for w in windows),
            max(w.window.end for w in windows),
            ", ".join(kinds),
            f", with {' and '.join(extra)}" if extra else "",
        )

    @property
    def tally(self) -> StreamTally:
        """This stream's figures in the run report."""
        return self.parent_tap.report.stream(self.name)

    @property
    def progress(self) -> Progress:
        """This stream's progress lines (made when it begins to sync)."""
        if self._progress is None:
            self._progress = Progress(
                self.logger,
                self.tally,
                self.runtime.settings.progress_interval_seconds,
                self._job_load,
                self._current_bytes,
            )
        return self._progress

    def _each_window(
        self, emit: Callable[[JobSnapshot, ExportRequest], Iterator[T]]
    ) -> Iterator[T]:
        """Run ``emit`` for every planned window; advance and write state after each."""
        tickets = self.plan()
        self.tally.started = time.monotonic()
        for position in range(len(tickets)):
            self._next_window = position
            ticket = tickets[position]
            for attempt in range(1, EXPIRED_EXPORT_ATTEMPTS + 1):
                job = self._wait_for(ticket)
                self._save_state()
                began, self._current_job, self._window_count = time.monotonic(), job.job_id, 0
                try:
                    yield from emit(job, ticket.request)
                    break
                except ExportExpiredError as exc:
                    if attempt == EXPIRED_EXPORT_ATTEMPTS:
                        raise
                    self.logger.warning("%s; exporting the window again", exc)
                    self.runtime.scheduler.release(ticket)
                    ticket = self.runtime.scheduler.submit(
                        replace(ticket.request, resume_job_id=None), again=True
                    )
                    tickets[position] = ticket
            self._window_finished(position)
            self._measured(ticket, time.monotonic() - began)
            self.runtime.scheduler.release(ticket)
            self._next_window = position + 1
            self._save_state()
        self.tally.ended = time.monotonic()

    def _wait_for(self, ticket: ExportTicket) -> JobSnapshot:
        """The ticket's completed job; the wait counted, progress logged while it lasts."""
        began = time.monotonic()
        progress = self.progress
        pause = max(0.2, progress.interval)
        while not ticket.done:
            progress.tick()  # first, so a stream that begins by waiting says so at once
            ticket.ready(pause)
        self.tally.wait_seconds += time.monotonic() - began
        return ticket.wait()

    def _measured(self, ticket: ExportTicket, seconds: float) -> None:
        """A window is done: its bytes into the tally, its measurements into the history."""
        proof = self.runtime.client.proof(ticket.job_id or "")
        received = proof.received if proof is not None else 0
        self._current_job = None
        tally = self.tally
        tally.windows_done += 1
        tally.bytes += received
        request = ticket.request
        history.append(
            self.stream_state,
            history.entry(
                request.window,
                request.export_type,
                job_seconds=ticket.job_seconds,
                download_seconds=seconds,
                received=received,
                records=self._window_count,
            ),
        )

    def _job_load(self) -> str:
        """The source's jobs now, against the upstream's limits, for the progress line."""
        running, queued = self.runtime.scheduler.load()
        client = self.runtime.client
        limit = getattr(client, "max_running", None)
        cap = f" (limit {limit})" if limit else ""
        return (
            f"{self.source_name} jobs: {running} running{cap}, {queued} queued "
            f"(limit {client.max_outstanding} open)"
        )

    def _current_bytes(self) -> int:
        """Bytes received so far of the window being read."""
        if self._current_job is None:
            return 0
        proof = self.runtime.client.proof(self._current_job)
        return proof.received if proof is not None else 0

    def _window_finished(self, position: int) -> None:
        """A window's records are all out: move the bookmark, or record a backfill/re-sync."""
        planned = self._planned[position]
        if planned.purpose != SYNC:
            extra_window_done(self.stream_state, planned)
            return
        last = max(i for i, w in enumerate(self._planned) if w.purpose == SYNC)
        self.window_done(self.stream_state, planned.window, planned.export_type, position == last)

    def _save_state(self) -> None:
        """Write a STATE message that holds the jobs of every stream, not only this one's.

        Jobs are created ahead, for later windows and for streams that sync later; a run
        killed after this message must find all of them in it (the tap's
        ``remember_all_jobs``), or the next run would export those windows again.
        """
        self.parent_tap.remember_all_jobs()
        self.write_state_now()

    def remember_jobs(self) -> None:
        """Put the job ids of this stream's windows not yet emitted into its state."""
        if self._tickets is None:  # not planned: not selected, or its state is as loaded
            return
        jobs = {
            planned.state_key: {"job_id": t.job_id, "export_type": t.request.export_type}
            for planned, t in list(zip(self._planned, self._tickets, strict=True))[
                self._next_window :
            ]
            if t.job_id
        }
        state = self.stream_state
        if jobs:
            state["jobs"] = jobs
        else:
            state.pop("jobs", None)


__all__ = ["WindowPlan", "WindowRunner", "state_date"]
