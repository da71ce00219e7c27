"""Jobs made before this run could know them: the one a lost creation made, those kept in state.

Both would otherwise be exported again, at the cost of the upstream's queue and time:

- a creation whose answer was lost (reset, 5xx, timeout) may have made its job upstream; a
  source that can list its jobs (a :class:`~.source.ReconcilingSource`) is asked for it
  before the window's job is created again, so no duplicate is made;
- a run that was interrupted kept its jobs' ids in state; the next run adopts each one
  the upstream still has and that can still complete.
"""

from __future__ import annotations

import logging

from tap_activities.errors import NotFoundError, UpstreamError
from tap_activities.export.request import ExportRequest
from tap_activities.export.source import ExportSource, ReconcilingSource
from tap_activities.export.status import ExportStatus, JobSnapshot

LOGGER = logging.getLogger("tap_activities.jobs")


class Reconciler:
    """Finds the jobs of one source that this run did not create itself."""

    def __init__(self, source: ExportSource) -> None:
        self.source = source
        self.known_jobs: set[str] = set()
        """Every job id this run created, adopted or read from state: never adopted twice."""

    @property
    def reconciles(self) -> bool:
        """Whether the source can list its jobs, so a lost creation can be looked for."""
        return isinstance(self.source, ReconcilingSource)

    def lost_job(self, request: ExportRequest, since: float) -> JobSnapshot | None:
        """The job an unanswered creation of ``request`` made after ``since`` (epoch s).

        None when the upstream holds none (then the window's job is created again); the
        source's errors (a job list that cannot be read) are raised as they are.
        """
        assert isinstance(self.source, ReconcilingSource)
        job = self.source.find_created(request, since, set(self.known_jobs))
        if job is None:
            LOGGER.info(
                "%s: no job from the unanswered creation upstream; creating one",
                request.describe(),
            )
        return job

    def kept_job(self, request: ExportRequest) -> JobSnapshot | None:
        """The job kept in state for ``request`` by an interrupted run, if it can still complete.

        None when the upstream forgot it, cannot be asked, or ended it Failed or Canceled:
        a new job is created then.
        """
        job_id = request.resume_job_id
        assert job_id is not None
        try:
            job = self.source.status(job_id)
        except NotFoundError:
            LOGGER.info(
                "%s: job %s from state is gone upstream; creating a new one",
                request.describe(),
                job_id,
            )
            return None
        except UpstreamError as exc:
            LOGGER.warning(
                "%s: cannot read job %s from state (%s); creating a new one",
                request.describe(),
                job_id,
                exc,
            )
            return None
        self.known_jobs.add(job_id)
        if job.status in {ExportStatus.FAILED, ExportStatus.CANCELED}:
            return None
        return job
