"""The job scheduler against an in-memory source: limits, retries, deadlines, resume."""

import datetime as dt
import itertools
import threading

import pytest

from tap_activities.errors import (
    ExportFailedError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from tap_activities.export.request import ExportRequest
from tap_activities.export.scheduler import JobScheduler
from tap_activities.export.status import ExportStatus, JobSnapshot
from tap_activities.export.windows import Window


class FakeSource:
    """Jobs complete after `polls_to_complete` status reads; scripted outcomes per creation."""

    name = "fake"

    def __init__(self, max_outstanding=10, polls_to_complete=2, outcomes=(), rate_limits=0):
        self.max_outstanding = max_outstanding
        self.polls_to_complete = polls_to_complete
        self.outcomes = list(outcomes)  # statuses a created job ends in, in creation order
        self.rate_limits = rate_limits
        self.jobs = {}
        self.created = []
        self.max_open_seen = 0
        self.lock = threading.Lock()
        self.ids = itertools.count(1)

    def create(self, request):
        with self.lock:
            if self.rate_limits:
                self.rate_limits -= 1
                raise RateLimitedError("too many jobs", retry_after=0.01)
            job_id = f"job-{next(self.ids)}"
            end = self.outcomes.pop(0) if self.outcomes else ExportStatus.COMPLETED
            self.jobs[job_id] = {"polls": 0, "end": end}
            self.created.append((job_id, request))
            open_jobs = sum(1 for j in self.jobs.values() if j["polls"] < self.polls_to_complete)
            self.max_open_seen = max(self.max_open_seen, open_jobs)
            return JobSnapshot(job_id, ExportStatus.QUEUED)

    def status(self, job_id):
        with self.lock:
            if job_id not in self.jobs:
                raise NotFoundError(f"{job_id} unknown")
            job = self.jobs[job_id]
            job["polls"] += 1
            if job["end"] is None or job["polls"] < self.polls_to_complete:
                return JobSnapshot(job_id, ExportStatus.RUNNING)
            return JobSnapshot(
                job_id, job["end"], message="boom" if job["end"] != ExportStatus.COMPLETED else None
            )


def request(day, resume=None):
    start = dt.date(2024, 1, 1) + dt.timedelta(days=14 * day)
    return ExportRequest(
        "s", "email", Window(start, start + dt.timedelta(days=13)), "delta", resume
    )


def scheduler(source, **kw):
    return JobScheduler(source, poll_interval=0.005, job_timeout=kw.pop("job_timeout", 10), **kw)


def test_many_windows_never_exceed_the_queue_limit_and_all_complete():
    source = FakeSource(max_outstanding=3)
    sched = scheduler(source)
    tickets = [sched.submit(request(i)) for i in range(12)]
    try:
        jobs = [t.wait(10) for t in tickets]
    finally:
        sched.close()
    assert all(job.status is ExportStatus.COMPLETED for job in jobs)
    assert source.max_open_seen <= 3
    # created in submission order, so the window a stream needs next is never starved
    assert [r.window for _, r in source.created] == [t.request.window for t in tickets]


def test_rate_limited_creation_waits_and_is_not_a_failure():
    source = FakeSource(rate_limits=3)
    sched = scheduler(source)
    try:
        assert sched.submit(request(0)).wait(10).status is ExportStatus.COMPLETED
    finally:
        sched.close()
    assert len(source.created) == 1


def test_failed_job_is_created_again_then_succeeds():
    source = FakeSource(
        outcomes=[ExportStatus.FAILED, ExportStatus.CANCELED, ExportStatus.COMPLETED]
    )
    sched = scheduler(source, max_failures=3)
    try:
        job = sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    assert job.job_id == "job-3"


def test_failed_job_gives_up_with_window_job_id_and_message():
    source = FakeSource(outcomes=[ExportStatus.FAILED] * 5)
    sched = scheduler(source, max_failures=2)
    try:
        with pytest.raises(ExportFailedError) as caught:
            sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    assert [job_id for job_id, _ in source.created] == ["job-1", "job-2"]
    assert str(caught.value) == (
        "s window 2024-01-01..2024-01-14 delta: export job job-2 ended failed (boom); "
        "gave up after 2 attempts"
    )


def test_a_job_past_its_deadline_is_created_again_like_a_failed_one(caplog):
    # The first job never completes; the next completes at its first status read, well
    # within a deadline generous enough for a busy machine.
    source = FakeSource(outcomes=[None], polls_to_complete=1)
    sched = scheduler(source, job_timeout=0.5)
    try:
        job = sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    assert job.job_id == "job-2"
    assert [job_id for job_id, _ in source.created] == ["job-1", "job-2"]
    assert (
        caplog.messages.count(
            "s window 2024-01-01..2024-01-14 delta: export job job-1 still running after "
            "job_timeout_seconds=0.5; creating it again (attempt 2 of 3)"
        )
        == 1
    )


def test_jobs_that_never_complete_end_in_one_error_after_the_attempts():
    source = FakeSource(outcomes=[None] * 10)
    sched = scheduler(source, job_timeout=0.05)
    try:
        with pytest.raises(ExportFailedError) as caught:
            sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    # max_failures (3) jobs, each past its deadline; no fourth is created.
    assert [job_id for job_id, _ in source.created] == ["job-1", "job-2", "job-3"]
    assert str(caught.value) == (
        "s window 2024-01-01..2024-01-14 delta: export job job-3 still running after "
        "job_timeout_seconds=0.05; gave up after 3 attempts"
    )


def test_resume_adopts_a_known_job_and_replaces_a_forgotten_one():
    source = FakeSource()
    source.jobs["job-old"] = {"polls": 0, "end": ExportStatus.COMPLETED}
    sched = scheduler(source)
    try:
        adopted = sched.submit(request(0, resume="job-old")).wait(10)
        replaced = sched.submit(request(1, resume="job-forgotten")).wait(10)
    finally:
        sched.close()
    assert adopted.job_id == "job-old"
    assert replaced.job_id == "job-1"
    assert [job_id for job_id, _ in source.created] == ["job-1"]


class LosingSource(FakeSource):
    """Creates the job, then 'loses' the answer the first ``lose`` times; can list jobs."""

    def __init__(self, lose=1, listable=True, **kw):
        super().__init__(**kw)
        self.lose = lose
        self.listable = listable
        self.lookups = 0

    def create(self, request):
        job = super().create(request)
        if self.lose:
            self.lose -= 1
            raise TransientError("POST jobs failed: ConnectionError")
        return job

    def find_created(self, request, since, exclude):
        self.lookups += 1
        if not self.listable:
            return None
        for job_id, made in reversed(self.created):
            if made == request and job_id not in exclude:
                return JobSnapshot(job_id, ExportStatus.QUEUED)
        return None


def test_unanswered_creation_adopts_the_job_it_made_instead_of_a_duplicate():
    source = LosingSource(lose=1)
    sched = scheduler(source)
    try:
        job = sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    assert source.lookups == 1
    assert [job_id for job_id, _ in source.created] == ["job-1"]
    assert job.job_id == "job-1"


def test_unanswered_creation_without_a_match_creates_again():
    source = LosingSource(lose=1, listable=False)
    sched = scheduler(source)
    try:
        job = sched.submit(request(0)).wait(10)
    finally:
        sched.close()
    assert source.lookups == 1
    assert job.job_id == "job-2"


def test_creation_failing_for_max_retry_seconds_gives_up_with_the_window():
    source = LosingSource(lose=10**6, listable=False)
    sched = scheduler(source, max_retry_seconds=0.05)
    try:
        with pytest.raises(ExportFailedError, match=r"kept failing for max_retry_seconds=0\.05"):
            sched.submit(request(0)).wait(30)
    finally:
        sched.close()
