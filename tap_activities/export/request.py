"""What a stream asks of the job engine: one window exported, and the ticket it waits on."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tap_activities.errors import ExportFailedError, TapActivitiesError
from tap_activities.export.status import JobSnapshot
from tap_activities.export.windows import Window


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


class ExportTicket:
    """The consumer's handle on one request: wait for its completed job, or its error.

    The scheduler keeps ``job`` up to date as the upstream reports it (so the stream can
    keep the job id in state) and ends the ticket with :meth:`finish` or :meth:`fail`;
    its own bookkeeping stays in the scheduler.
    """

    def __init__(self, request: ExportRequest) -> None:
        self.request = request
        self.job: JobSnapshot | None = None
        self.created_at: float | None = None
        """Monotonic time the scheduler created (or adopted) the current job."""
        self.completed_at: float | None = None
        """Monotonic time the scheduler saw the job completed."""
        self._done = threading.Event()
        self._error: TapActivitiesError | None = None

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

    def ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a result or an error; whether there is one."""
        return self._done.wait(timeout)

    @property
    def job_seconds(self) -> float:
        """From the job's creation (or adoption) to its completion, as the tap saw them."""
        if self.created_at is None or self.completed_at is None:
            return 0.0
        return max(0.0, self.completed_at - self.created_at)

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the job completes; raise the error that ended it otherwise."""
        if not self._done.wait(timeout):
            msg = f"{self.request.describe()}: still waiting for export job {self.job_id}"
            raise ExportFailedError(msg)
        if self._error is not None:
            raise self._error
        assert self.job is not None
        return self.job
