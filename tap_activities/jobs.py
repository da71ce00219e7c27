"""Asynchronous export jobs: one closed set of states, one scheduler shared by all streams.

Both APIs work the same way: create an export for a date window, poll until it completes,
download it. The scheduler owns the first two steps for every stream of a source, so that:

- the upstream's use limits hold across the whole run (People.ai: at most 10 jobs queued,
  running included), not per stream;
- jobs for later windows and for streams that sync later are created while the current
  window is being downloaded and emitted, in the order they will be consumed, so the wall
  time of a sync approaches the upstream's own export time instead of the sum of waits;
- a 429 on creation means "wait", not "failed"; a Failed or Canceled job is re-created a
  bounded number of times; a job that never finishes hits its deadline;
- a creation that fails without a clear answer (reset, 5xx, timeout: the job may exist)
  is retried with backoff for at most ``max_retry_seconds``, and a source that can list
  its jobs (a :class:`ReconcilingSource`) is asked first for the job the lost call made,
  so no duplicate is created.

Streams only ``submit`` requests and ``wait`` for tickets; everything else happens in one
background thread per source.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tap_activities.errors import (
    ExportFailedError,
    NotFoundError,
    RateLimitedError,
    TapActivitiesError,
    TransientError,
    UnreachableError,
    UpstreamError,
)
from tap_activities.http import FIRST_CONTACT_SECONDS, retry_delay
from tap_activities.windows import Window

LOGGER = logging.getLogger("tap_activities.jobs")


class ExportStatus(enum.Enum):
    """Where an export job is. The upstream's words map onto these, and only these."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self in {ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELED}


@dataclass(frozen=True)
class ExportRequest:
    """One window of one stream, to be exported."""

    stream: str
    activity_type: str
    window: Window
    export_type: str | None = None
    resume_job_id: str | None = None

    def describe(self) -> str:
        """Short text naming stream, window and export type, for logs and errors."""
        kind = f" {self.export_type}" if self.export_type else ""
        return f"{self.stream} window {self.window}{kind}"


@dataclass(frozen=True)
class JobSnapshot:
    """The upstream's view of a job at one moment."""

    job_id: str
    status: ExportStatus
    body: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None


class ExportSource(Protocol):
    """What the scheduler needs from an upstream API client."""

    name: str
    max_outstanding: int

    def create(self, request: ExportRequest) -> JobSnapshot:
        """Create an export job for the request."""
        ...

    def status(self, job_id: str) -> JobSnapshot:
        """Read a job's current state; raise NotFoundError if the upstream forgot it."""
        ...


@runtime_checkable
class ReconcilingSource(ExportSource, Protocol):
    """A source that can list its jobs, so an unclear creation can be checked."""

    def find_created(
        self, request: ExportRequest, since: float, exclude: set[str]
    ) -> JobSnapshot | None:
        """The job an unanswered ``create(request)`` may have made after ``since`` (epoch s)."""
        ...


class ExportTicket:
    """A request's place in the scheduler, and the consumer's handle to wait on."""

    def __init__(self, request: ExportRequest, deadline_seconds: float) -> None:
        self.request = request
        self.job: JobSnapshot | None = None
        self.failures = 0
        self.created_at: float | None = None
        self.not_before = 0.0
        self.deadline_seconds = deadline_seconds
        self._done = threading.Event()
        self._error: TapActivitiesError | None = None
        self.resume_checked = request.resume_job_id is None
        self.create_errors = 0
        self.first_create_error: float | None = None
        self.unclear_since: float | None = None  # wall clock of an unanswered create
        self.limited_since: float | None = None  # when creating it was first refused (429)

    @property
    def job_id(self) -> str | None:
        """The upstream id of the current job, once created."""
        return self.job.job_id if self.job else None

    @property
    def done(self) -> bool:
        """Whether the ticket has a result or an error."""
        return self._done.is_set()

    def finish(self, job: JobSnapshot) -> None:
        """Hand a completed job to the consumer."""
        self.job = job
        self._done.set()

    def fail(self, error: TapActivitiesError) -> None:
        """Hand an error to the consumer."""
        self._error = error
        self._done.set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the job completes; raise the error that ended it otherwise."""
        if not self._done.wait(timeout):
            msg = f"{self.request.describe()}: still waiting for export job {self.job_id}"
            raise ExportFailedError(msg)
        if self._error is not None:
            raise self._error
        assert self.job is not None
        return self.job


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
        self._known_jobs: set[str] = set()
        self._tickets: list[ExportTicket] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._create_not_before = 0.0

    def submit(self, request: ExportRequest) -> ExportTicket:
        """Queue a request; jobs are created in submission order as limits allow."""
        ticket = ExportTicket(request, self.job_timeout)
        with self._lock:
            self._tickets.append(ticket)
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
            if ticket in self._tickets:
                self._tickets.remove(ticket)

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
                    pending = [t for t in self._tickets if not t.done]
                for ticket in pending:
                    ticket.fail(error)
                LOGGER.exception("%s job scheduler crashed", self.source.name)
                return
            self._wake.wait(timeout=self._sleep_seconds())
            self._wake.clear()

    def _sleep_seconds(self) -> float:
        return max(0.01, self.poll_interval)

    def _step(self) -> None:
        with self._lock:
            open_tickets = [t for t in self._tickets if not t.done]
        self._poll(open_tickets)
        self._create(open_tickets)

    def _outstanding(self, tickets: list[ExportTicket]) -> int:
        return sum(1 for t in tickets if t.job is not None and not t.done)

    def _create(self, tickets: list[ExportTicket]) -> None:
        now = time.monotonic()
        if now < self._create_not_before:
            return
        for ticket in tickets:
            if ticket.job is not None or ticket.done or now < ticket.not_before:
                continue
            if self._outstanding(tickets) >= self.source.max_outstanding:
                return
            if not ticket.resume_checked and self._resume(ticket):
                continue
            if ticket.unclear_since is not None and self._reconcile(ticket):
                continue
            attempt_started = time.time()
            try:
                job = self.source.create(ticket.request)
            except RateLimitedError as exc:
                if self._limited_too_long(ticket, exc):
                    continue
                wait = exc.retry_after if exc.retry_after is not None else self._sleep_seconds()
                self._create_not_before = time.monotonic() + max(wait, self.poll_interval)
                LOGGER.info(
                    "%s: export creation limited by the upstream (%s); waiting %.1fs",
                    self.source.name,
                    exc,
                    wait,
                )
                return
            except TransientError as exc:
                # The request may have reached the upstream and created a job whose answer
                # was lost: remember when, so the next attempt looks for it first. (A host
                # that never answered created nothing.)
                if ticket.unclear_since is None and not isinstance(exc, UnreachableError):
                    ticket.unclear_since = attempt_started
                self._create_failed(ticket, exc)
                continue
            except TapActivitiesError as exc:
                ticket.fail(type(exc)(f"{ticket.request.describe()}: {exc}"))
                continue
            self._adopt(ticket, job, "created")

    def _limited_too_long(self, ticket: ExportTicket, exc: RateLimitedError) -> bool:
        """Whether the upstream has refused this window's job for ``job_timeout_seconds``.

        Jobs the upstream never finishes still fill its queue (the API has no way to
        cancel them), so a window can wait for a place for ever: that wait has the same
        deadline as a job, and then ends the run with a line that says why.
        """
        now = time.monotonic()
        if ticket.limited_since is None:
            ticket.limited_since = now
        if now - ticket.limited_since <= ticket.deadline_seconds:
            return False
        msg = (
            f"{ticket.request.describe()}: the upstream refused new export jobs for "
            f"job_timeout_seconds={ticket.deadline_seconds:g} ({exc}); its job queue stays "
            "full, often with jobs that never finish"
        )
        ticket.fail(ExportFailedError(msg))
        return True

    def _adopt(self, ticket: ExportTicket, job: JobSnapshot, how: str) -> None:
        ticket.job = job
        ticket.limited_since = None
        ticket.created_at = time.monotonic()
        ticket.unclear_since = None
        ticket.create_errors = 0
        ticket.first_create_error = None
        self._known_jobs.add(job.job_id)
        LOGGER.info(
            "%s: %s export job %s (%s)",
            ticket.request.describe(),
            how,
            job.job_id,
            job.status.value,
        )
        self._settle(ticket, job)

    def _create_failed(self, ticket: ExportTicket, exc: TapActivitiesError) -> None:
        """Back off exponentially with jitter; give up after ``max_retry_seconds``."""
        now = time.monotonic()
        ticket.create_errors += 1
        if ticket.first_create_error is None:
            ticket.first_create_error = now
        if isinstance(exc, UnreachableError):
            # The host never answered: a wrong URL, most likely. Its own line says which
            # setting to check, and the run ends in seconds (http.FIRST_CONTACT_SECONDS).
            if now - ticket.first_create_error >= min(
                FIRST_CONTACT_SECONDS, self.max_retry_seconds
            ):
                ticket.fail(exc)
                return
        elif now - ticket.first_create_error >= self.max_retry_seconds:
            msg = (
                f"{ticket.request.describe()}: creating the export kept failing for "
                f"max_retry_seconds={self.max_retry_seconds:g}: {exc}"
            )
            ticket.fail(ExportFailedError(msg))
            return
        delay = retry_delay(ticket.create_errors, exc)
        ticket.not_before = now + max(delay, self.poll_interval)
        LOGGER.warning(
            "%s: creating export failed, will retry in %.1fs: %s",
            ticket.request.describe(),
            ticket.not_before - now,
            exc,
        )

    def _reconcile(self, ticket: ExportTicket) -> bool:
        """After a create call without an answer, adopt the job it may have made."""
        if not isinstance(self.source, ReconcilingSource):
            return False
        find = self.source.find_created
        assert ticket.unclear_since is not None
        try:
            job = find(ticket.request, ticket.unclear_since, set(self._known_jobs))
        except TransientError as exc:
            self._create_failed(ticket, exc)
            return True  # neither adopt nor create blindly: look again later
        except TapActivitiesError as exc:
            ticket.fail(type(exc)(f"{ticket.request.describe()}: {exc}"))
            return True
        if job is None:
            LOGGER.info(
                "%s: no job from the unanswered creation upstream; creating one",
                ticket.request.describe(),
            )
            ticket.unclear_since = None
            return False
        self._adopt(ticket, job, "adopted unanswered")
        return True

    def _resume(self, ticket: ExportTicket) -> bool:
        """Adopt the job id kept in state by an interrupted run, if the upstream still has it."""
        ticket.resume_checked = True
        job_id = ticket.request.resume_job_id
        assert job_id is not None
        try:
            job = self.source.status(job_id)
        except NotFoundError:
            LOGGER.info(
                "%s: job %s from state is gone upstream; creating a new one",
                ticket.request.describe(),
                job_id,
            )
            return False
        except UpstreamError as exc:
            LOGGER.warning(
                "%s: cannot read job %s from state (%s); creating a new one",
                ticket.request.describe(),
                job_id,
                exc,
            )
            return False
        self._known_jobs.add(job_id)
        if job.status in {ExportStatus.FAILED, ExportStatus.CANCELED}:
            return False
        self._adopt(ticket, job, "resuming from state")
        return True

    def _poll(self, tickets: list[ExportTicket]) -> None:
        for ticket in tickets:
            if ticket.job is None or ticket.done:
                continue
            try:
                job = self.source.status(ticket.job.job_id)
            except TransientError as exc:
                LOGGER.warning(
                    "%s: status check failed, will retry: %s", ticket.request.describe(), exc
                )
                self._check_deadline(ticket, ticket.job)
                continue
            except NotFoundError:
                job = JobSnapshot(
                    ticket.job.job_id, ExportStatus.FAILED, message="job vanished upstream"
                )
            except TapActivitiesError as exc:
                ticket.fail(type(exc)(f"{ticket.request.describe()}: {exc}"))
                continue
            if job.status != ticket.job.status:
                LOGGER.info(
                    "%s: export job %s is %s",
                    ticket.request.describe(),
                    job.job_id,
                    job.status.value,
                )
            ticket.job = job
            self._settle(ticket, job)

    def _settle(self, ticket: ExportTicket, job: JobSnapshot) -> None:
        if job.status is ExportStatus.COMPLETED:
            ticket.finish(job)
            return
        if job.status in {ExportStatus.FAILED, ExportStatus.CANCELED}:
            why = f" ({job.message})" if job.message else ""
            self._again_or_fail(ticket, job, f"ended {job.status.value}{why}")
            return
        self._check_deadline(ticket, job)

    def _again_or_fail(self, ticket: ExportTicket, job: JobSnapshot, what: str) -> None:
        """A job that will not complete: create the window's job again, or give up.

        ``max_failures`` attempts per window, a cool-down between them; the old job is
        no longer waited on (the API documents no way to cancel it).
        """
        ticket.failures += 1
        if ticket.failures >= self.max_failures:
            msg = (
                f"{ticket.request.describe()}: export job {job.job_id} {what}; "
                f"gave up after {ticket.failures} attempts"
            )
            ticket.fail(ExportFailedError(msg))
            return
        LOGGER.warning(
            "%s: export job %s %s; creating it again (attempt %d of %d)",
            ticket.request.describe(),
            job.job_id,
            what,
            ticket.failures + 1,
            self.max_failures,
        )
        ticket.job = None
        ticket.not_before = time.monotonic() + 2 * self.poll_interval

    def _check_deadline(self, ticket: ExportTicket, job: JobSnapshot) -> None:
        """A job past ``job_timeout_seconds`` counts as failed: it is created again."""
        created = ticket.created_at or time.monotonic()
        if time.monotonic() - created > ticket.deadline_seconds:
            self._again_or_fail(
                ticket,
                job,
                f"still {job.status.value} after job_timeout_seconds={ticket.deadline_seconds:g}",
            )
