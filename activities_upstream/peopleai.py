"""The People.ai Raw Activity Data API, as its document describes it.

Decisions where the document is silent (see shared/upstream-notes.md):
- Creating an 11th open job (Queued + Running) answers **429** with ``Retry-After: 1`` and
  ``{"error": "TooManyRequestsException", ...}``; the document states the limit, not the
  error, and 429 is what the Backstory APIs use for use limits.
- At most 2 jobs run at once; further jobs wait in Queued (the upstream enforces this).
- ``fragment`` in a job is the highest fragment index (0-based): fragments ``0..fragment``.
  The other readings are modes of :class:`UpstreamConfig`: the field as a count, named
  ``fragments``, or absent; no ``results_size``; a listed fragment that answers 404.
- ``GET /jobs`` answers ``{"jobs": [...]}`` with the jobs of the retention period.
- Range: snapshot at most 1 year (end before start + 1 year), delta at most 14 days inclusive.
- Data of a job not yet Completed: 409 with a JSON error.
- Job creation takes JSON (``Content-Type: application/json``, as the document's curl
  example) with the five documented parameters: another type or another parameter is a
  400, and recorded as a violation. ``/fragment?fragment=N`` (the document's second curl
  example) answers like ``/data?fragment=N`` (its text), but is recorded as a violation:
  the tap must keep to the path the text documents. A ChartMogul Basic key sent here is
  recorded too.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from activities_upstream.config import UpstreamConfig
from activities_upstream.data import PeopleAIData
from activities_upstream.faults import Faults
from activities_upstream.http import FaultGate, drop_connection, json_response, send_truncated
from activities_upstream.served import Served

ACTIVITY_TYPES = {"email", "meeting", "call", "all"}
EXPORT_TYPES = {"delta", "snapshot"}
JOBS = "/pull/v1/export/activities/jobs"
JOB_PARAMETERS = frozenset(
    {"start_date", "end_date", "activity_type", "output_format", "export_type"}
)
RENDERED_EXPORTS_KEPT = 32


def _utc(moment: float | None) -> str | None:
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"error": "BadRequestException", "message": message}, status)


@dataclass
class Job:
    """One export job and its life cycle (wall-clock times)."""

    job_id: str
    body: dict[str, Any]
    created: float
    eligible: float
    end_state: str | None
    started: float | None = None
    ended: float | None = None
    state: str = "Queued"
    fragments: list[bytes] | None = None
    results_size: int | None = None
    data_lock: threading.Lock = field(default_factory=threading.Lock)

    def view(self, config: UpstreamConfig) -> dict[str, Any]:
        """The job object as the API returns it (its fragment fields as ``config`` says)."""
        done = self.state == "Completed"
        view = {
            "job_id": self.job_id,
            "state": self.state,
            **self.body,
            "job_created_time": _utc(self.created),
            "job_start_time": _utc(self.started),
            "job_end_time": _utc(self.ended),
        }
        if config.reports_results_size:
            size = self.results_size
            view["results_size"] = (
                size + config.results_size_extra if done and size is not None else None
            )
        if config.fragment_field:
            count = len(self.served_fragments(config))
            view[config.fragment_field] = (
                (count if config.fragment_is_count else count - 1) if done else None
            )
        return view

    def served_fragments(self, config: UpstreamConfig) -> list[bytes]:
        """The fragments ``?fragment=N`` answers.

        An export without data has one, empty, where ``fragment`` is the highest index
        (0), and none where it is a count (0).
        """
        fragments = self.fragments or [b""]
        return [] if config.fragment_is_count and fragments == [b""] else fragments


class PeopleAIApp:
    """WSGI app of the People.ai API."""

    served: Served | None = None
    """Fragments a test gave to serve as they are (:mod:`activities_upstream.served`)."""

    def __init__(
        self,
        config: UpstreamConfig,
        data: PeopleAIData,
        faults: Faults,
        violations: list[str] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.faults = faults
        self.violations: list[str] = [] if violations is None else violations
        """Requests that broke a rule of the document the tap must keep (shared list)."""
        self.gate = FaultGate(faults)
        self.jobs: dict[str, Job] = {}
        self.tokens: dict[str, float] = {}
        self.peak_open_jobs = 0
        """Most jobs ever Queued or Running at once (an observation for tests)."""
        self.peak_data_requests = 0
        """Most data requests ever being answered at once (an observation for tests)."""
        self._data_requests = 0
        self._lock = threading.RLock()
        self._render_lock = threading.Lock()
        self._rendered: dict[tuple, list[bytes]] = {}
        self.routes = Map(
            [
                Rule("/auth/v1/tokens", endpoint="token", methods=["POST"]),
                Rule(JOBS, endpoint="create", methods=["POST"]),
                Rule(JOBS, endpoint="list", methods=["GET"]),
                Rule(f"{JOBS}/<job_id>", endpoint="status", methods=["GET"]),
                Rule(f"{JOBS}/<job_id>/data", endpoint="data", methods=["GET"]),
                Rule(f"{JOBS}/<job_id>/fragment", endpoint="fragment", methods=["GET"]),
            ]
        )

    def __call__(self, environ: dict, start_response: Any) -> Any:
        """Serve one WSGI request."""
        request = Request(environ)
        adapter = self.routes.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception:
            response = json_response(
                {"error": "NotFoundException", "message": "no such endpoint"}, 404
            )
            return response(environ, start_response)
        if request.headers.get("Authorization", "").lower().startswith("basic "):
            self.violations.append(f"{request.method} {request.path}: a Basic key at People.ai")
        if endpoint == "fragment":
            self.violations.append(f"GET {request.path}: the text documents /data?fragment=N")
            endpoint = "data"
        if endpoint == "data":
            with self._lock:
                self._data_requests += 1
                self.peak_data_requests = max(self.peak_data_requests, self._data_requests)
        try:
            response = self.gate.check(f"peopleai.{endpoint}", request)
            if response is None:
                if endpoint != "token" and not self._authorized(request):
                    response = json_response(
                        {"error": "UnauthorizedException", "message": "invalid or expired token"},
                        401,
                    )
                else:
                    response = getattr(self, f"on_{endpoint}")(request, **args)
        finally:
            if endpoint == "data":
                with self._lock:
                    self._data_requests -= 1
        return response(environ, start_response)

    # Auth ----------------------------------------------------------------------------------

    def on_token(self, request: Request) -> Response:
        """OAuth client credentials."""
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {"error": "invalid_grant", "message": "grant_type must be client_credentials"}, 400
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.config.peopleai_client_id,
            self.config.peopleai_client_secret,
        ):
            return json_response(
                {"error": "invalid_client", "message": "bad client credentials"}, 401
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = time.time() + self.config.token_ttl_seconds
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.config.token_ttl_seconds,
            }
        )

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return False
        with self._lock:
            expiry = self.tokens.get(header[7:].strip())
        return expiry is not None and expiry > time.time()

    # Jobs ----------------------------------------------------------------------------------

    def on_create(self, request: Request) -> Response:
        """Validate and queue an export job."""
        if request.mimetype != "application/json":
            self.violations.append(f"POST {request.path}: Content-Type {request.mimetype!r}")
            return _bad("Content-Type must be application/json")
        try:
            body = orjson.loads(request.get_data())
        except orjson.JSONDecodeError:
            return _bad("Request body is not valid JSON")
        if not isinstance(body, dict):
            return _bad("Request body is not a JSON object")
        unknown = sorted(set(body) - JOB_PARAMETERS)
        if unknown:
            self.violations.append(f"POST {request.path}: undocumented parameter(s) {unknown}")
            return _bad(f"Unknown parameter: {unknown[0]}")
        problem = self._validate(body)
        if problem:
            return _bad(problem)
        now = time.time()
        with self._lock:
            self._advance(now)
            open_jobs = sum(1 for j in self.jobs.values() if j.state in {"Queued", "Running"})
            if open_jobs >= self.config.max_queued_jobs:
                return json_response(
                    {
                        "error": "TooManyRequestsException",
                        "message": "Maximum number of queued export jobs "
                        f"({self.config.max_queued_jobs}) reached",
                    },
                    429,
                    {"Retry-After": "1"},
                )
            job = Job(
                job_id=str(uuid.uuid4()),
                body={
                    key: body[key]
                    for key in (
                        "export_type",
                        "output_format",
                        "activity_type",
                        "start_date",
                        "end_date",
                    )
                },
                created=now,
                eligible=now + self.config.queue_seconds,
                end_state=self.faults.job_end_state(body["start_date"]),
            )
            self.jobs[job.job_id] = job
            self.peak_open_jobs = max(self.peak_open_jobs, open_jobs + 1)
        if self.faults.take("lose:peopleai.create"):
            return drop_connection(request)
        return json_response(job.view(self.config), 201)

    @staticmethod
    def _validate(body: dict[str, Any]) -> str | None:
        for name in ("start_date", "end_date", "activity_type", "output_format", "export_type"):
            if not isinstance(body.get(name), str):
                return f"Missing parameter: {name}"
        try:
            start = dt.date.fromisoformat(body["start_date"])
            end = dt.date.fromisoformat(body["end_date"])
        except ValueError:
            start = end = None
        if start is None or end is None or len(body["start_date"] + body["end_date"]) != 20:
            return "Invalid parameter format: startDate/endDate (yyyy-MM-dd)"
        if body["activity_type"] not in ACTIVITY_TYPES:
            return "Invalid parameter format: activityType"
        if body["output_format"] != "JSONLines":
            return "Invalid parameter format: outputFormat"
        if body["export_type"] not in EXPORT_TYPES:
            return "Invalid parameter format: exportType"
        if end < start:
            return "end_date is before start_date"
        if body["export_type"] == "delta" and (end - start).days + 1 > 14:
            return "Maximum date range for delta data is 14 days"
        if body["export_type"] == "snapshot":
            try:
                limit = start.replace(year=start.year + 1)
            except ValueError:
                limit = start.replace(year=start.year + 1, day=28)
            if end >= limit:
                return "Maximum date range for snapshot data is 1 year"
        return None

    def _advance(self, now: float) -> None:
        """Move jobs along: Running ends after run time; Queued starts when a slot frees."""
        running = [j for j in self.jobs.values() if j.state == "Running"]
        for job in sorted(running, key=lambda j: j.started or 0):
            duration = self._run_time(job)
            if job.end_state != "stall" and now >= (job.started or now) + duration:
                job.ended = (job.started or now) + duration
                job.state = job.end_state or "Completed"
        running_ends = sorted(
            (j.started or now) + self._run_time(j)
            for j in self.jobs.values()
            if j.state == "Running"
        )
        free_at = [now] * max(0, self.config.max_running_jobs - len(running_ends))
        for job in sorted(
            (j for j in self.jobs.values() if j.state == "Queued"), key=lambda j: j.created
        ):
            if not free_at:
                break
            if now < job.eligible:
                continue
            job.started = max(job.eligible, min(free_at))
            free_at.remove(min(free_at))
            job.state = "Running"
        if any(
            j.state == "Running"
            and j.end_state != "stall"
            and now >= (j.started or now) + self._run_time(j)
            for j in self.jobs.values()
        ):
            self._advance(now)
        cutoff = now - self.config.retention_seconds
        for job_id in [k for k, j in self.jobs.items() if j.created < cutoff]:
            del self.jobs[job_id]

    def _run_time(self, job: Job) -> float:
        extra = 0.0
        if self.config.run_seconds_per_1000_records:
            extra = self.config.run_seconds_per_1000_records * self._estimate(job) / 1000
        return self.config.run_seconds + extra

    def _estimate(self, job: Job) -> int:
        start = dt.date.fromisoformat(job.body["start_date"])
        end = dt.date.fromisoformat(job.body["end_date"])
        kinds = 3 if job.body["activity_type"] == "all" else 1
        return ((end - start).days + 1) * self.data.per_day * kinds

    def on_status(self, request: Request, job_id: str) -> Response:
        """One job."""
        with self._lock:
            self._advance(time.time())
            job = self.jobs.get(job_id)
            if job is None:
                return json_response(
                    {"error": "NotFoundException", "message": f"Job {job_id} not found"}, 404
                )
            if job.state == "Completed":
                self._materialise(job)
            return json_response(job.view(self.config))

    def on_list(self, request: Request) -> Response:
        """All jobs of the retention period."""
        with self._lock:
            self._advance(time.time())
            for job in self.jobs.values():
                if job.state == "Completed":
                    self._materialise(job)
            return json_response({"jobs": [j.view(self.config) for j in self.jobs.values()]})

    def _materialise(self, job: Job) -> None:
        """Serialise a completed job's data into fragments, once.

        Exports of the same range over unchanged data answer the same bytes, so rendered
        fragments are kept per query (a few at most) and shared by later jobs: a large
        export is rendered once, not in the middle of every sync that asks for it.
        """
        with job.data_lock:
            if job.fragments is not None:
                return
            by = "activity" if job.body["export_type"] == "snapshot" else "processed"
            key = (
                job.body["activity_type"],
                job.body["start_date"],
                job.body["end_date"],
                by,
                self.config.fragment_records,
                self.data.version,
            )
            with self._render_lock:
                fragments = self._rendered.get(key)
                if fragments is None:
                    fragments = self._render(key)
                    self._rendered[key] = fragments
                    while len(self._rendered) > RENDERED_EXPORTS_KEPT:
                        del self._rendered[next(iter(self._rendered))]
            served = self.served.fragments() if self.served is not None else None
            job.fragments = fragments if served is None else served
            job.results_size = sum(len(f) for f in job.fragments)

    def _render(self, key: tuple) -> list[bytes]:
        activity_type, start, end, by, size, _version = key
        records = self.data.select(
            activity_type, dt.date.fromisoformat(start), dt.date.fromisoformat(end), by
        )
        records.sort(key=lambda r: r["uid"])
        size = max(1, size)
        dumps = orjson.dumps
        return [
            b"".join(dumps(r) + b"\n" for r in records[i : i + size])
            for i in range(0, len(records), size)
        ] or [b""]

    def _lost(self, index: int, count: int) -> bool:
        """Whether fragment ``index`` of ``count`` is the one the config says is lost."""
        missing = self.config.missing_fragment
        return missing is not None and index == missing % count

    def on_data(self, request: Request, job_id: str) -> Response:
        """All data, or one fragment with ``?fragment=N``."""
        with self._lock:
            self._advance(time.time())
            job = self.jobs.get(job_id)
            if job is None:
                return json_response(
                    {"error": "NotFoundException", "message": f"Job {job_id} not found"}, 404
                )
            if job.state != "Completed":
                return json_response(
                    {"error": "ConflictException", "message": f"Job {job_id} is {job.state}"}, 409
                )
        self._materialise(job)
        fragments = job.served_fragments(self.config)
        raw = request.args.get("fragment")
        if raw is None:
            body = b"".join(fragments)
        else:
            try:
                index = int(raw)
            except ValueError:
                return _bad("Invalid parameter format: fragment")
            if not 0 <= index < len(fragments) or self._lost(index, len(fragments)):
                return json_response(
                    {"error": "NotFoundException", "message": f"Fragment {index} not found"}, 404
                )
            body = fragments[index]
        if body and self.faults.take("corrupt_json"):
            cut = body.index(b"\n") if b"\n" in body else len(body)
            body = body[: max(1, cut // 2)] + b"\n" + body
        content_type = "application/x-ndjson"
        if body and self.faults.take("truncate"):
            return send_truncated(request, body, content_type)
        return Response(body, status=200, content_type=content_type)
