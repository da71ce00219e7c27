"""What the job engine asks of an upstream API client: create a job, read its status.

A source that can also list its jobs is a :class:`ReconcilingSource`: after a creation
whose answer was lost, the scheduler asks it for the job that call may have made.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tap_activities.export.request import ExportRequest
from tap_activities.export.status import JobSnapshot


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
