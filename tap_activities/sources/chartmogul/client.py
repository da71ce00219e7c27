"""ChartMogul Activities Export: exports, their states, and the zipped CSV behind file_url.

The export's ``file_url`` is a pre-signed URL on another host (S3). It is fetched with a
bare session that carries no Authorization header and no API key: S3 rejects such requests,
and the key must never leave ChartMogul's host. The zip goes to a temporary file and its
CSV is extracted next to it (the CRCs are checked on the way), then read row by row, or in
ranges of whole rows by worker processes; both files are deleted after use. A zip that
stays corrupt over several downloads is damaged at rest: the window is exported again.

Status words: ``pending`` → ``processing`` → ``succeeded`` | ``failed``. The API document
writes ``successful``; the official clients see ``succeeded``: both mean success.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import requests

from tap_activities.errors import (
    AuthError,
    CorruptDownloadError,
    ExportExpiredError,
    NotFoundError,
    UpstreamError,
)
from tap_activities.export.job_limits import CHARTMOGUL_LIMITS
from tap_activities.export.proof import ByteProof, Receipts
from tap_activities.export.request import ExportRequest
from tap_activities.export.status import ExportStatus, JobFormat, JobSnapshot, body_time
from tap_activities.records.framing import Block, Framing, frame_records
from tap_activities.records.spooled import BlockMeta, read_blocks
from tap_activities.settings import Settings
from tap_activities.sources.chartmogul import zipped_csv as chartmogul_csv
from tap_activities.sources.chartmogul.settings import ChartMogulSettings
from tap_activities.sources.chartmogul.zipped_csv import CsvRange, frame_csv_range
from tap_activities.transfer.download import PartDownloader, copy_body
from tap_activities.transfer.http import ApiSession, HostContact, fetch_foreign, redact_url
from tap_activities.transfer.spool import Handoff, Spool
from tap_activities.transfer.workers import WorkerPool

EXPORTS_PATH = "/v1/activities_export"
PING_PATH = "/v1/ping"  # the authentication test endpoint of ChartMogul's API (and its clients)
MAX_OPEN_EXPORTS = CHARTMOGUL_LIMITS.open

EXPORTS = JobFormat(
    upstream="ChartMogul",
    noun="export",
    id_key="id",
    status_key="status",
    states={
        "pending": ExportStatus.QUEUED,
        "processing": ExportStatus.RUNNING,
        "succeeded": ExportStatus.COMPLETED,
        "successful": ExportStatus.COMPLETED,
        "failed": ExportStatus.FAILED,
    },
    url_setting="chartmogul_api_url",
)
"""The export objects of the API document (``id``, ``status``)."""


class ChartMogulClient:
    """The ChartMogul side of the export machinery (an ``ExportSource``)."""

    name = "chartmogul"
    size_name = "size"
    """What the export's size would be called: its objects give none (the proof says so)."""
    max_running = None
    """The API documents no limit on exports processed at once, only on open ones."""

    def __init__(
        self,
        source: ChartMogulSettings,
        settings: Settings,
        workers: WorkerPool | None = None,
    ) -> None:
        """Bind the client to the configured API host and key (``workers``: CSV ranges)."""
        self.api = ApiSession(
            name="ChartMogul",
            base_url=source.api_url,
            auth=requests.auth.HTTPBasicAuth(source.api_key, ""),
            timeout=settings.request_timeout_seconds,
            max_retry_seconds=settings.max_retry_seconds,
            auth_hint="'chartmogul_api_key'",
            contact=HostContact("ChartMogul", source.api_url, "chartmogul_api_url"),
        )
        self.max_outstanding = MAX_OPEN_EXPORTS
        self.downloader = PartDownloader(workers=1)
        self.workers = workers or WorkerPool()
        self.receipts = Receipts()
        """Each recent export's bytes received (the export object declares no size)."""

    def proof(self, job_id: str) -> ByteProof | None:
        """The export's zip bytes received; the upstream gives no size to hold them to."""
        return self.receipts.proof(job_id)

    def create(self, request: ExportRequest) -> JobSnapshot:
        """Create an activities export of one type for one window (whole UTC days)."""
        payload = {
            "start-date": f"{request.window.start.isoformat()}T00:00:00Z",
            "end-date": f"{request.window.end.isoformat()}T23:59:59Z",
            "type": request.activity_type,
        }
        response = self.api.request(
            "POST", EXPORTS_PATH, json=payload, retry=False, base_url_endpoint=True
        )
        return EXPORTS.read(response)

    def check_credentials(self) -> str:
        """The key and the base URL, asked of ChartMogul's authentication test endpoint.

        ``GET /v1/ping`` answers ``{"data": "pong!"}`` to a valid key and 401 to any other;
        a 404 means ``chartmogul_api_url`` is not the API's base URL. Nothing is exported.
        """
        body = EXPORTS.json(self.api.request("GET", PING_PATH, base_url_endpoint=True))
        if not isinstance(body, Mapping) or body.get("data") != "pong!":
            msg = (
                f"ChartMogul GET {PING_PATH} did not answer pong "
                "(is 'chartmogul_api_url' the ChartMogul API?)"
            )
            raise UpstreamError(msg)
        return "ChartMogul accepted the API key"

    def check_connection(self) -> str:
        """``--test``: the same check as before a sync (:meth:`check_credentials`)."""
        return self.check_credentials()

    def status(self, job_id: str) -> JobSnapshot:
        """Read one export."""
        return EXPORTS.read(self.api.request("GET", f"{EXPORTS_PATH}/{job_id}"))

    def record_blocks(
        self,
        job: JobSnapshot,
        request: ExportRequest,
        fields: Iterable[str],
        framing: Framing,
        date_times: Iterable[tuple[str, ...]] = (),  # typed by the CSV reader instead
    ) -> Iterator[Block]:
        """The export's rows as typed records, serialised with null-filled schema fields.

        This is the tap's one way to read ChartMogul data: the SDK's record path decodes
        these blocks (framed as JSON Lines) too.

        Dates need no ``date_times``: the CSV reader types them (``chartmogul_csv``).
        Columns outside ``fields`` are reported with every block, as nullable strings.

        With worker processes, the CSV is cut into ranges of whole rows that the workers
        type and frame in parallel, in order. If a range does not parse (a malformed row,
        or a stray quote that misled the cutting), the rest of the file is read again in
        one pass here, skipping the records already emitted: its verdict, and its error
        message with the file's own row and line numbers, is the one that counts.
        """
        fields = tuple(fields)
        for path, where in self._csv_files(job, request):
            header = chartmogul_csv.read_header(path) if self.workers.uses_processes else None
            emitted = 0
            if header is not None:
                start, cells = header
                tasks = (
                    (CsvRange(str(path), begin, end, cells, fields, framing, self._spool_dir),)
                    for begin, end in chartmogul_csv.row_ranges(path, start)
                )
                ranges = self.workers.ordered(frame_csv_range, tasks, discard=_drop_spool)
                try:
                    for handoff in ranges:
                        for block in read_blocks(Spool.adopt(*handoff)):
                            emitted += block.count
                            yield block
                    continue
                except chartmogul_csv.CsvRowError:
                    pass  # read again in one pass below, for the authoritative verdict
            columns = chartmogul_csv.read_columns(path)
            rows = chartmogul_csv.iter_csv_rows(path, where=where)
            unknown = chartmogul_csv.unknown_columns(columns, fields)
            yield from frame_records(islice(rows, emitted, None), fields, framing, None, unknown)

    def _csv_files(self, job: JobSnapshot, request: ExportRequest) -> Iterator[tuple[Path, str]]:
        """``(extracted CSV, what it is for messages)`` of the export; deleted after use."""
        file_url = job.body.get("file_url")
        where = f"{request.describe()} export {job.job_id}"
        if not file_url:
            msg = f"{where}: succeeded without a file_url"
            raise UpstreamError(msg)
        _check_not_expired(job.body.get("expires_at"), where)
        name = redact_url(str(file_url)).rsplit("/", 1)[-1] or "export.zip"
        timeout = self.api.timeout
        display = f"{where} file {name}"

        def fetch(out: BinaryIO) -> tuple[Path, str]:
            try:
                response = self.api.retrying(
                    lambda: fetch_foreign(str(file_url), timeout=timeout, what=where)
                )
            except (AuthError, NotFoundError) as exc:
                # S3 answers 403 once a pre-signed URL has expired (sometimes early).
                msg = f"{where}: file {name} can no longer be downloaded ({exc})"
                raise ExportExpiredError(msg) from None
            proof = ByteProof(None, copy_body(response, out, display))
            self.receipts.keep(job.job_id, lambda: proof)
            out.flush()
            # Decompressed here, in the download worker: the CRCs are checked on the way.
            handle, csv_name = tempfile.mkstemp(
                prefix="tap-activities-", suffix=".csv", dir=self.downloader.directory
            )
            try:
                with os.fdopen(handle, "wb") as csv_file:
                    member = chartmogul_csv.extract_csv(out.name, csv_file, display)
            except BaseException:
                Path(csv_name).unlink(missing_ok=True)
                raise
            return Path(csv_name), f"{display} ({member})"

        results = self.downloader.results([fetch], where)
        while True:
            try:
                _zip, (path, described) = next(results)
            except StopIteration:
                return
            except CorruptDownloadError as exc:
                # The stored file itself is damaged (every download got the same bad
                # bytes): only a new export of the window can help.
                msg = f"{exc}; the file stays corrupt"
                raise ExportExpiredError(msg) from None
            try:
                yield path, described
            finally:
                path.unlink(missing_ok=True)

    @property
    def _spool_dir(self) -> str | None:
        directory = self.downloader.directory
        return None if directory is None else str(directory)


def _drop_spool(handoff: Handoff[BlockMeta]) -> None:
    """A range's spool that will never be read."""
    Path(handoff[0]).unlink(missing_ok=True)


def _check_not_expired(expires_at: Any, where: str) -> None:
    moment = body_time(expires_at)
    if moment is not None and moment <= dt.datetime.now(dt.timezone.utc):
        msg = f"{where}: file_url expired at {expires_at}"
        raise ExportExpiredError(msg)
