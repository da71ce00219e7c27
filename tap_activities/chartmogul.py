"""ChartMogul Activities Export: exports, their states, and the zipped CSV behind file_url.

The export's ``file_url`` is a pre-signed URL on another host (S3). It is fetched with a
bare session that carries no Authorization header and no API key: S3 rejects such requests,
and the key must never leave ChartMogul's host. The zip goes to a temporary file, its CRCs
are checked, then the CSV streams out of it row by row, and the file is deleted. A zip that
stays corrupt over several downloads is damaged at rest: the window is exported again.

Status words: ``pending`` → ``processing`` → ``succeeded`` | ``failed``. The API document
writes ``successful``; the official clients see ``succeeded``: both mean success.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import requests

from tap_activities import chartmogul_csv
from tap_activities.download import PartDownloader, copy_body
from tap_activities.errors import (
    AuthError,
    CorruptDownloadError,
    ExportExpiredError,
    NotFoundError,
    UpstreamError,
)
from tap_activities.http import ApiSession, fetch_foreign, redact_url
from tap_activities.jobs import ExportRequest, ExportStatus, JobSnapshot
from tap_activities.settings import ChartMogulSettings, Settings
from tap_activities.windows import Window, snapshot_windows

EXPORTS_PATH = "/v1/activities_export"
ACTIVITY_TYPES = ("new_biz", "expansion", "contraction", "churn", "reactivation")
MAX_OPEN_EXPORTS = 5

_STATES = {
    "pending": ExportStatus.QUEUED,
    "processing": ExportStatus.RUNNING,
    "succeeded": ExportStatus.COMPLETED,
    "successful": ExportStatus.COMPLETED,
    "failed": ExportStatus.FAILED,
}


def plan_chartmogul_windows(
    start: dt.date, end: dt.date, bookmark: dt.date | None, lookback_days: int
) -> list[Window]:
    """Windows of at most a year; an incremental run re-exports ``lookback_days`` first.

    ChartMogul recomputes activities after the fact, so a run starts ``lookback_days``
    before the bookmark (never before ``start_date``); targets upsert on ``uuid``.
    """
    if bookmark is not None:
        start = max(start, bookmark - dt.timedelta(days=lookback_days))
    return list(snapshot_windows(start, end))


def parse_export(body: Any) -> JobSnapshot:
    """Turn an export object into a :class:`JobSnapshot`; an unknown status is an error."""
    if not isinstance(body, Mapping) or not body.get("id"):
        msg = (
            "ChartMogul answered something that is not an export (no 'id'); "
            "is 'chartmogul_api_url' right?"
        )
        raise UpstreamError(msg)
    raw = str(body.get("status", ""))
    status = _STATES.get(raw.strip().lower())
    if status is None:
        msg = f"ChartMogul export {body['id']} has an unknown status {raw!r}"
        raise UpstreamError(msg)
    return JobSnapshot(str(body["id"]), status, body, body.get("message") or body.get("error"))


class ChartMogulClient:
    """The ChartMogul side of the export machinery (an ``ExportSource``)."""

    name = "chartmogul"

    def __init__(self, source: ChartMogulSettings, settings: Settings) -> None:
        """Bind the client to the configured API host and key."""
        self.api = ApiSession(
            name="ChartMogul",
            base_url=source.api_url,
            auth=requests.auth.HTTPBasicAuth(source.api_key, ""),
            timeout=settings.request_timeout_seconds,
            max_retry_seconds=settings.max_retry_seconds,
            auth_hint="'chartmogul_api_key'",
        )
        self.max_outstanding = MAX_OPEN_EXPORTS
        self.downloader = PartDownloader(workers=1)

    def create(self, request: ExportRequest) -> JobSnapshot:
        """Create an activities export of one type for one window (whole UTC days)."""
        payload = {
            "start-date": f"{request.window.start.isoformat()}T00:00:00Z",
            "end-date": f"{request.window.end.isoformat()}T23:59:59Z",
            "type": request.activity_type,
        }
        response = self.api.request("POST", EXPORTS_PATH, json=payload, retry=False)
        return parse_export(self._json(response))

    def status(self, job_id: str) -> JobSnapshot:
        """Read one export."""
        return parse_export(self._json(self.api.request("GET", f"{EXPORTS_PATH}/{job_id}")))

    def records(self, job: JobSnapshot, request: ExportRequest) -> Iterator[dict[str, Any]]:
        """Download the export's zip, check it, and stream its rows as typed records."""
        file_url = job.body.get("file_url")
        where = f"{request.describe()} export {job.job_id}"
        if not file_url:
            msg = f"{where}: succeeded without a file_url"
            raise UpstreamError(msg)
        _check_not_expired(job.body.get("expires_at"), where)
        name = redact_url(str(file_url)).rsplit("/", 1)[-1] or "export.zip"
        timeout = self.api.timeout

        def fetch(out: BinaryIO) -> int:
            try:
                response = self.api.retrying(
                    lambda: fetch_foreign(str(file_url), timeout=timeout, what=where)
                )
            except (AuthError, NotFoundError) as exc:
                # S3 answers 403 once a pre-signed URL has expired (sometimes early).
                msg = f"{where}: file {name} can no longer be downloaded ({exc})"
                raise ExportExpiredError(msg) from None
            written = copy_body(response, out, f"{where} file {name}")
            out.flush()
            chartmogul_csv.verify_zip(out.name, f"{where} file {name}")
            return written

        files = self.downloader.files([fetch], where)
        while True:
            try:
                path = next(files)
            except StopIteration:
                return
            except CorruptDownloadError as exc:
                # The stored file itself is damaged (every download got the same bad
                # bytes): only a new export of the window can help.
                msg = f"{exc}; the file stays corrupt"
                raise ExportExpiredError(msg) from None
            yield from chartmogul_csv.iter_activity_rows(path, display_name=f"{where} file {name}")

    @staticmethod
    def _json(response: Any) -> Any:
        try:
            return response.json()
        except ValueError:
            msg = (
                "ChartMogul answered something that is not JSON; "
                "is 'chartmogul_api_url' the ChartMogul API?"
            )
            raise UpstreamError(msg) from None


def _check_not_expired(expires_at: Any, where: str) -> None:
    if not expires_at:
        return
    try:
        moment = dt.datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
    except ValueError:
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    if moment <= dt.datetime.now(dt.timezone.utc):
        msg = f"{where}: file_url expired at {expires_at}"
        raise ExportExpiredError(msg)
