"""People.ai Raw Activity Data API: jobs and their states (fragments: :mod:`.fragments`).

The API document leaves a few things open (see ``shared/upstream-notes.md``); the choices
here are deliberately tolerant:

- ``fragment`` is read as the highest fragment index (0-based), so fragments ``0..fragment``
  are fetched; a field named ``fragments`` is accepted too. Without either, ``/data`` is
  fetched whole. If the field is really a count, the extra last index answers 404; the
  job's ``results_size`` decides whether that 404 is the end of the data or a lost
  fragment (:class:`~tap_activities.sources.peopleai.fragments.FragmentTally`).
- The job list may come as a JSON array or wrapped in an object (``jobs``/``data``).
- A use-limit error on job creation (429, or a 4xx whose message mentions a limit) means
  "wait and create later", never a failed job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

from tap_activities.errors import (
    AuthError,
    RateLimitedError,
    TransientError,
    UpstreamError,
)
from tap_activities.export.job_limits import PEOPLEAI_LIMITS
from tap_activities.export.proof import ByteProof
from tap_activities.export.request import ExportRequest
from tap_activities.export.status import ExportStatus, JobFormat, JobSnapshot, body_time
from tap_activities.records.deflated import DeflatedBlock
from tap_activities.records.framing import Block, Framing
from tap_activities.settings import Settings
from tap_activities.sources.peopleai.auth import PeopleAITokenAuth
from tap_activities.sources.peopleai.fragments import FragmentReader
from tap_activities.sources.peopleai.settings import PeopleAISettings
from tap_activities.transfer.download import (
    PartDownloader,
)
from tap_activities.transfer.http import ApiSession, HostContact
from tap_activities.transfer.workers import WorkerPool

LOGGER = logging.getLogger("tap_activities.peopleai")
JOBS_PATH = "/pull/v1/export/activities/jobs"
TOKEN_PATH = "/auth/v1/tokens"  # noqa: S105 - a path, not a secret
MAX_QUEUED_JOBS = PEOPLEAI_LIMITS.open
MAX_RUNNING_JOBS = PEOPLEAI_LIMITS.slots
RECONCILE_SLACK_SECONDS = 120.0
"""Clock difference tolerated when matching a job to an unanswered creation."""

JOBS = JobFormat(
    upstream="People.ai",
    noun="job",
    id_key="job_id",
    status_key="state",
    states={
        "queued": ExportStatus.QUEUED,
        "running": ExportStatus.RUNNING,
        "completed": ExportStatus.COMPLETED,
        "failed": ExportStatus.FAILED,
        "canceled": ExportStatus.CANCELED,
        "cancelled": ExportStatus.CANCELED,
    },
    url_setting="peopleai_api_url",
    names_content_type=True,
)
"""The job objects of the API document (``job_id``, ``state``)."""


class PeopleAIClient:
    """The People.ai side of the export machinery (an ``ExportSource``)."""

    name = "peopleai"
    size_name = "results_size"
    """The job field that tells the export's size in bytes (the window's proof)."""
    max_running = MAX_RUNNING_JOBS
    """Jobs the upstream runs at once for one client (the rest wait in its queue)."""

    def __init__(
        self,
        source: PeopleAISettings,
        settings: Settings,
        workers: WorkerPool | None = None,
    ) -> None:
        """Bind the client to the configured API host and credentials.

        ``workers`` runs the pass over each downloaded fragment (default: in the
        download thread).
        """
        contact = HostContact("People.ai", source.api_url, "peopleai_api_url")
        auth = PeopleAITokenAuth(
            f"{source.api_url}{TOKEN_PATH}",
            source.client_id,
            source.client_secret,
            settings.request_timeout_seconds,
            contact,
        )
        self._auth = auth
        self.api = ApiSession(
            name="People.ai",
            base_url=source.api_url,
            contact=contact,
            auth=auth,
            timeout=settings.request_timeout_seconds,
            max_retry_seconds=settings.max_retry_seconds,
            auth_hint="'peopleai_client_id' and 'peopleai_client_secret' (an Activity API key)",
        )
        self.max_outstanding = MAX_QUEUED_JOBS
        self.fragments = FragmentReader(
            self.api,
            auth.token,
            JOBS_PATH,
            PartDownloader(workers=settings.download_workers),
            workers or WorkerPool(),
        )

    def create(self, request: ExportRequest) -> JobSnapshot:
        """Create a JSONLines export job for one window."""
        payload = job_payload(request)
        try:
            # No blind retry: a repeated POST can create a duplicate job. The scheduler
            # decides when to try again.
            response = self.api.request(
                "POST", JOBS_PATH, json=payload, retry=False, base_url_endpoint=True
            )
        except UpstreamError as exc:
            if "limit" in str(exc).lower() and not isinstance(exc, RateLimitedError):
                raise RateLimitedError(str(exc)) from None
            raise
        return JOBS.read(response)

    def status(self, job_id: str) -> JobSnapshot:
        """Read one job."""
        return JOBS.read(self.api.request("GET", f"{JOBS_PATH}/{job_id}"))

    def check_credentials(self) -> str:
        """A token for the key pair: the first call of a sync, before any job exists.

        The token is kept for the run, so the check costs no extra call. A busy or
        unreachable token endpoint is retried as any call is (briefly before first contact).
        """
        self.api.retrying(self._auth.token)
        return "People.ai accepted the key pair"

    def check_connection(self) -> str:
        """``--test``: a token for the key pair, and the job list (nothing is exported)."""
        jobs = self.list_jobs()
        return f"People.ai accepted the key pair; {len(jobs)} export job(s) in its list"

    def list_jobs(self) -> list[JobSnapshot]:
        """All jobs the upstream still knows (the past 10 days)."""
        body = JOBS.json(self.api.request("GET", JOBS_PATH, base_url_endpoint=True))
        if isinstance(body, Mapping):
            body = body.get("jobs", body.get("data", []))
        if not isinstance(body, list):
            msg = "People.ai job list is not a list"
            raise UpstreamError(msg)
        return [JOBS.snapshot(item) for item in body]

    def record_blocks(
        self,
        job: JobSnapshot,
        request: ExportRequest,
        fields: Iterable[str],
        framing: Framing,
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[Block]:
        """A completed job's records, in order (:meth:`FragmentReader.blocks`)."""
        return self.fragments.blocks(job, self._where(job, request), fields, framing, date_times)

    def deflated_blocks(
        self,
        job: JobSnapshot,
        request: ExportRequest,
        fields: Iterable[str],
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[DeflatedBlock]:
        """The same records, JSON Lines compressed for gzip (:meth:`FragmentReader.deflated`)."""
        return self.fragments.deflated(job, self._where(job, request), fields, date_times)

    def proof(self, job_id: str) -> ByteProof | None:
        """The job's bytes received against its ``results_size`` (:class:`ByteProof`)."""
        return self.fragments.receipts.proof(job_id)

    @staticmethod
    def _where(job: JobSnapshot, request: ExportRequest) -> str:
        return f"{request.describe()} job {job.job_id}"

    def find_created(
        self, request: ExportRequest, since: float, exclude: set[str]
    ) -> JobSnapshot | None:
        """The job an unanswered creation made, found in the job list (None: there is none).

        A job matches when it was created after ``since`` (less a clock slack), asks for
        the same window, activity type, export type and format, is not Failed/Canceled,
        and is not a job this run already knows.
        """
        wanted = job_payload(request)
        try:
            jobs = self.list_jobs()
        except UpstreamError as exc:
            if isinstance(exc, (TransientError, AuthError)):
                raise
            return None  # no usable job list: creating again is all that is left
        earliest = since - RECONCILE_SLACK_SECONDS
        matches = [
            (created, job)
            for job in jobs
            if job.job_id not in exclude
            and job.status not in {ExportStatus.FAILED, ExportStatus.CANCELED}
            and all(job.body.get(key) == value for key, value in wanted.items())
            and (created := body_time(job.body.get("job_created_time"))) is not None
            and created.timestamp() >= earliest
        ]
        return max(matches, key=lambda pair: pair[0])[1] if matches else None


def job_payload(request: ExportRequest) -> dict[str, str]:
    """The body that creates a window's job; also what identifies it in the job list."""
    return {
        "start_date": request.window.start.isoformat(),
        "end_date": request.window.end.isoformat(),
        "activity_type": request.activity_type,
        "output_format": "JSONLines",
        "export_type": request.export_type,
    }
