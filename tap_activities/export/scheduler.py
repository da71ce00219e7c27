"""The job scheduler: one per source, shared by all its streams.

Both APIs work the same way: create an export for a date window, poll until it completes,
download it. The scheduler owns the first two steps for every stream of a source, so that:

- the upstream's use limits hold across the whole run, not per stream
  (:mod:`.limiter`);
- jobs for later windows and for streams that sync later are created while the current
  window is being downloaded and emitted, in the order they will be consumed, so the wall
  time of a sync approaches the upstream's own export time instead of the sum of waits;
- a Failed or Canceled job is re-created a bounded number of times; a job that never
  finishes hits its deadline;
- no window is exported twice for want of knowing its job: the one an unanswered creation
  made, or one an interrupted run kept in state, is adopted (:mod:`.reconcile`).

Streams only ``submit`` requests and ``wait`` for tickets; everything else happens in one
background thread per source.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from tap_activities.errors import (
    ExportFailedError,
    NotFoundError,
    RateLimitedError,
    TapActivitiesError,
    TransientError,
    UnreachableError,
)
from tap_activities.export.limiter import CreationAttempts, CreationLimiter
from tap_activities.export.reconcile import Reconciler
from tap_activities.export.request import ExportRequest, ExportTicket
from tap_activities.export.source import ExportSource
from tap_activities.export.status import ExportStatus, JobSnapshot
from tap_activities.report.tally import RunReport

LOGGER = logging.getLogger("tap_activities.jobs")


@dataclass
class _Tracked:
    """The scheduler's bookkeeping of one ticket, which the consumer never sees."""

    ticket: ExportTicket
    resume_checked: bool  # whether the job id kept in state was tried (or there is none)
    creation: CreationAttempts = field(default_factory=CreationAttempts)
    failures: int = 0  # jobs of this window that failed, were canceled or timed out
    created_at: float | None = None  # monotonic time its current job was created or adopted
    again: bool = False  # whether the window had a job that failed or expired before

    @property
    def request(self) -> ExportRequest:
        """The window this ticket is for."""
        return self.ticket.request


class JobScheduler:
    """Creates and polls export jobs for one source, shared by all its streams."""

    def __init__(
        self,
        source: ExportSource,
        *,
        poll_interval: float,
        job_timeout: float,
        max_failures: int = 3,
        max_retry_seconds: float = 600.0,
    ) -> None:
        """Prepare a scheduler; its thread starts with the first submitted request.

        Args:
            source: The upstream client.
            poll_interval: Seconds between two status reads of a job.
            job_timeout: Deadline of one job, from its creation to completion.
            max_failures: How many Failed/Canceled jobs one window may have before the
                sync gives up on it.
            max_retry_seconds: How long creation of one job may keep failing (5xx, resets,
                timeouts) before the sync gives up; use-limit answers (429) do not count.
        """
        self.source = source
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.max_failures = max_failures
        self.max_retry_seconds = max_retry_seconds
        self.limiter = CreationLimiter(
            source.name,
            max_outstanding=source.max_outstanding,
            poll_interval=poll_interval,
            job_timeout=job_timeout,
            max_retry_seconds=max_retry_seconds,
        )
        self.reconciler = Reconciler(source)
        self.report = RunReport()
        """Where jobs and 429 answers are counted (the tap's, once it has the scheduler)."""
        self._tracked: list[_Tracked] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, request: ExportRequest, *, again: bool = False) -> ExportTicket:
        """Queue a request; jobs are created in submission order as limits allow.

        ``again``: the window's earlier job expired (its job counts as re-created).
        """
        ticket = ExportTicket(request)
        with self._lock:
            self._tracked.append(
                _Tracked(ticket, resume_checked=request.resume_job_id is None, again=again)
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"{self.source.name}-jobs", daemon=True
                )
                self._thread.start()
        self._wake.set()
        return ticket

    def release(self, ticket: ExportTicket) -> None:
        """Forget a ticket the consumer is finished with."""
        with self._lock:
            self._tracked = [t for t in self._tracked if t.ticket is not ticket]

    def load(self) -> tuple[int, int]:
        """Jobs of this run the upstream reports ``(running, queued)`` now."""
        with self._lock:
            jobs = [t.ticket.job for t in self._tracked if not t.ticket.done]
        running = sum(1 for job in jobs if job is not None and job.status is ExportStatus.RUNNING)
        queued = sum(1 for job in jobs if job is not None and job.status is ExportStatus.QUEUED)
        return running, queued

    def close(self) -> None:
        """Stop the background thread (jobs already created stay upstream)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # The background loop -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:
                error = ExportFailedError(f"{self.source.name} job scheduler crashed: {exc!r}")
                with self._lock:
                    pending = [t for t in self._tracked if not t.ticket.done]
                for entry in pending:
                    entry.ticket.fail(error)
                LOGGER.exception("%s job scheduler crashed", self.source.name)
                return
            self._wake.wait(timeout=self._sleep_seconds())
            self._wake.clear()

    def _sleep_seconds(self) -> float:
        return max(0.01, self.poll_interval)

    def _step(self) -> None:
        with self._lock:
            open_tickets = [t for t in self._tracked if not t.ticket.done]
        self._poll(open_tickets)
        self._create(open_tickets)

    def _outstanding(self, tickets: list[_Tracked]) -> int:
        return sum(1 for t in tickets if t.ticket.job is not None and not t.ticket.done)

    def _create(self, tickets: list[_Tracked]) -> None:
        """Create the jobs of waiting windows, in submission order, as the limits allow."""
        now = time.monotonic()
        if self.limiter.paused(now):
            return
        for entry in tickets:
            if entry.ticket.job is not None or entry.ticket.done or now < entry.creation.not_before:
                continue
            if not self.limiter.has_room(self._outstanding(tickets)):
                return
            if not entry.resume_checked and self._resume(entry):
                continue
            if entry.creation.unclear_since is not None and self._reconcile(entry):
                continue
            if not self._attempt(entry):
                return

    def _attempt(self, entry: _Tracked) -> bool:
        """Create the window's job once; False when the upstream's 429 pauses every creation."""
        attempt_started = time.time()
        try:
            job = self.source.create(entry.request)
        except RateLimitedError as exc:
            self.report.refused(entry.request.stream)
            error = self.limiter.refused(entry.creation, entry.request, exc)
            if error is None:
                return False
            entry.ticket.fail(error)
            return True
        except TransientError as exc:
            # The request may have reached the upstream and created a job whose answer
            # was lost: remember when, so the next attempt looks for it first. (A host
            # that never answered created nothing.)
            if entry.creation.unclear_since is None and not isinstance(exc, UnreachableError):
                entry.creation.unclear_since = attempt_started
            self._create_failed(entry, exc)
            return True
        except TapActivitiesError as exc:
            entry.ticket.fail(type(exc)(f"{entry.request.describe()}: {exc}"))
            return True
        self._adopt(entry, job, "created")
        return True

    def _adopt(self, entry: _Tracked, job: JobSnapshot, how: str) -> None:
        entry.ticket.job = job
        entry.created_at = entry.ticket.created_at = time.monotonic()
        entry.creation = CreationAttempts()
        kind = "recreated" if entry.again else "created"
        self.report.job(entry.request.stream, "resumed" if how.startswith("resuming") else kind)
        self.reconciler.known_jobs.add(job.job_id)
        LOGGER.info(
            "%s: %s export job %s (%s)",
            entry.request.describe(),
            how,
            job.job_id,
            job.status.value,
        )
        self._settle(entry, job)

    def _create_failed(self, entry: _Tracked, exc: TapActivitiesError) -> None:
        """Back off exponentially with jitter; give up after ``max_retry_seconds``."""
        error = self.limiter.failed(entry.creation, entry.request, exc)
        if error is not None:
            entry.ticket.fail(error)

    def _reconcile(self, entry: _Tracked) -> bool:
        """After a create call without an answer, adopt the job it may have made."""
        if not self.reconciler.reconciles:
            return False
        assert entry.creation.unclear_since is not None
        try:
            job = self.reconciler.lost_job(entry.request, entry.creation.unclear_since)
        except TransientError as exc:
            self._create_failed(entry, exc)
            return True  # neither adopt nor create blindly: look again later
        except TapActivitiesError as exc:
            entry.ticket.fail(type(exc)(f"{entry.request.describe()}: {exc}"))
            return True
        if job is None:
            entry.creation.unclear_since = None
            return False
        self._adopt(entry, job, "adopted unanswered")
        return True

    def _resume(self, entry: _Tracked) -> bool:
        """Adopt the job id kept in state by an interrupted run, if the upstream still has it."""
        entry.resume_checked = True
        job = self.reconciler.kept_job(entry.request)
        if job is None:
            return False
        self._adopt(entry, job, "resuming from state")
        return True

    def _poll(self, tickets: list[_Tracked]) -> None:
        for entry in tickets:
            if entry.ticket.job is None or entry.ticket.done:
                continue
            try:
                job = self.source.status(entry.ticket.job.job_id)
            except TransientError as exc:
                LOGGER.warning(
                    "%s: status check failed, will retry: %s", entry.request.describe(), exc
                )
                self._check_deadline(entry, entry.ticket.job)
                continue
            except NotFoundError:
                job = JobSnapshot(
                    entry.ticket.job.job_id, ExportStatus.FAILED, message="job vanished upstream"
                )
            except TapActivitiesError as exc:
                entry.ticket.fail(type(exc)(f"{entry.request.describe()}: {exc}"))
                continue
            if job.status != entry.ticket.job.status:
                LOGGER.info(
                    "%s: export job %s is %s",
                    entry.request.describe(),
                    job.job_id,
                    job.status.value,
                )
            entry.ticket.job = job
            self._settle(entry, job)

    def _settle(self, entry: _Tracked, job: JobSnapshot) -> None:
        if job.status is ExportStatus.COMPLETED:
            entry.ticket.completed_at = time.monotonic()
            entry.ticket.finish(job)
            return
        if job.status in {ExportStatus.FAILED, ExportStatus.CANCELED}:
            why = f" ({job.message})" if job.message else ""
            self._again_or_fail(entry, job, f"ended {job.status.value}{why}")
            return
        self._check_deadline(entry, job)

    def _again_or_fail(self, entry: _Tracked, job: JobSnapshot, what: str) -> None:
        """A job that will not complete: create the window's job again, or give up.

        ``max_failures`` attempts per window, a cool-down between them; the old job is
        no longer waited on (the API documents no way to cancel it).
        """
        entry.failures += 1
        if entry.failures >= self.max_failures:
            msg = (
                f"{entry.request.describe()}: export job {job.job_id} {what}; "
                f"gave up after {entry.failures} attempts"
            )
            entry.ticket.fail(ExportFailedError(msg))
            return
        LOGGER.warning(
            "%s: export job %s %s; creating it again (attempt %d of %d)",
            entry.request.describe(),
            job.job_id,
            what,
            entry.failures + 1,
            self.max_failures,
        )
        entry.ticket.job = None
        entry.again = True
        entry.creation.not_before = time.monotonic() + 2 * self.poll_interval

    def _check_deadline(self, entry: _Tracked, job: JobSnapshot) -> None:
        """A job past ``job_timeout_seconds`` counts as failed: it is created again."""
        created = entry.created_at or time.monotonic()
        if time.monotonic() - created > self.job_timeout:
            self._again_or_fail(
                entry,
                job,
                f"still {job.status.value} after job_timeout_seconds={self.job_timeout:g}",
            )
