"""The ChartMogul Activities Export API and the S3-like host its file URLs point to.

Statuses go pending → processing → succeeded (configurable to ``successful``, the word
of the seed document) | failed. A succeeded export gets a pre-signed ``file_url`` on the
file host and an ``expires_at``. The file host behaves like S3: a request carrying an
Authorization header is refused with 400 (and recorded as a violation, since the API key
must never reach it), an expired URL answers 403, an unknown one 404. ``GET /v1/ping``,
the API's authentication test, answers ``{"data": "pong!"}`` to a valid key.

Export requests may come as a form (the document's curl example, ``-d start-date=…``) or
as JSON (its official clients); a body parameter the document does not list (say
``start_date``) is refused with 422 and recorded as a violation, as is a People.ai bearer
token sent to this host.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import secrets
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from activities_upstream.config import UpstreamConfig
from activities_upstream.data import CHARTMOGUL_TYPES, ChartMogulData
from activities_upstream.faults import Faults
from activities_upstream.http import FaultGate, drop_connection, json_response, send_truncated
from activities_upstream.served import Served

EXPORTS = "/v1/activities_export"
EXPORT_PARAMETERS = frozenset({"start-date", "end-date", "type"})
RENDERED_EXPORTS_KEPT = 32


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat(timespec="seconds")


def _parse_moment(raw: str, *, end: bool) -> dt.datetime:
    """A date (whole day) or an ISO 8601 date-time; naive means UTC."""
    if len(raw) == 10:
        day = dt.date.fromisoformat(raw)
        moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
    else:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass
class Export:
    """One activities export."""

    export_id: str
    activity_type: str
    start: dt.datetime
    end: dt.datetime
    created: float
    fails: bool
    stalls: bool = False
    file_name: str | None = None
    signature: str | None = None
    expires: float | None = None
    status: str = "pending"


class ChartMogulApp:
    """WSGI app of the ChartMogul API."""

    served: Served | None = None
    """A zip a test gave to serve as it is (:mod:`activities_upstream.served`)."""

    def __init__(
        self,
        config: UpstreamConfig,
        data: ChartMogulData,
        faults: Faults,
        files: FileHost,
        violations: list[str] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.faults = faults
        self.files = files
        self.violations = files.violations if violations is None else violations
        """Requests that broke a rule of the document the tap must keep (shared list)."""
        self.gate = FaultGate(faults)
        self.exports: dict[str, Export] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._rendered: dict[tuple, tuple[bytes, bytes]] = {}
        self.routes = Map(
            [
                # The authentication test endpoint (ChartMogul's docs and official clients).
                Rule("/v1/ping", endpoint="ping", methods=["GET"]),
                Rule(EXPORTS, endpoint="create", methods=["POST"]),
                Rule(f"{EXPORTS}/<export_id>", endpoint="status", methods=["GET"]),
            ]
        )

    def __call__(self, environ: dict, start_response: Any) -> Any:
        """Serve one WSGI request."""
        request = Request(environ)
        try:
            endpoint, args = self.routes.bind_to_environ(environ).match()
        except Exception:
            return json_response({"code": 404, "message": "Not found"}, 404)(
                environ, start_response
            )
        response = self.gate.check(f"chartmogul.{endpoint}", request)
        if response is None:
            if not self._authorized(request):
                response = json_response(
                    {"code": 401, "message": "No valid API key provided", "param": None}, 401
                )
            else:
                response = getattr(self, f"on_{endpoint}")(request, **args)
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            self.violations.append(f"{request.method} {request.path}: a bearer token at ChartMogul")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, _password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.config.chartmogul_api_key)

    def on_ping(self, _request: Request) -> Response:
        """A valid key gets pong (an invalid one got 401 before)."""
        return json_response({"data": "pong!"})

    def on_create(self, request: Request) -> Response:
        """Validate and accept an export request (JSON or form body)."""
        if request.mimetype == "application/json":
            try:
                params = orjson.loads(request.get_data())
            except orjson.JSONDecodeError:
                return json_response({"code": 400, "message": "Invalid JSON"}, 400)
        else:
            params = request.form.to_dict()
        if not isinstance(params, dict):
            return json_response({"code": 400, "message": "Invalid JSON"}, 400)
        unknown = sorted(set(params) - EXPORT_PARAMETERS)
        if unknown:
            self.violations.append(f"POST {request.path}: undocumented parameter(s) {unknown}")
            return json_response(
                {"code": 422, "message": f"Unknown parameter: {unknown[0]}", "param": unknown[0]},
                422,
            )
        kind = params.get("type")
        if kind not in CHARTMOGUL_TYPES:
            return json_response(
                {"code": 422, "message": f"Invalid type: {kind!r}", "param": "type"}, 422
            )
        try:
            start = _parse_moment(
                str(params.get("start-date") or self.data.start.isoformat()), end=False
            )
            end = _parse_moment(
                str(params.get("end-date") or dt.date.today().isoformat()), end=True
            )
        except ValueError:
            return json_response(
                {"code": 422, "message": "Invalid date", "param": "start-date"}, 422
            )
        if end < start:
            return json_response(
                {"code": 422, "message": "end-date is before start-date", "param": "end-date"}, 422
            )
        export = Export(
            str(uuid.uuid4()),
            kind,
            start,
            end,
            time.time(),
            self.faults.take_for("export_fail", start.date().isoformat()),
            self.faults.take("export_stall"),
        )
        with self._lock:
            self.exports[export.export_id] = export
        if self.faults.take("lose:chartmogul.create"):
            return drop_connection(request)
        return json_response(self._view(export), 201)

    def on_status(self, request: Request, export_id: str) -> Response:
        """One export; it advances with time."""
        with self._lock:
            export = self.exports.get(export_id)
        if export is None:
            return json_response({"code": 404, "message": "Export not found", "param": "id"}, 404)
        self._advance(export)
        return json_response(self._view(export))

    def _advance(self, export: Export) -> None:
        elapsed = time.time() - export.created
        if export.status not in {"pending", "processing"}:
            return
        if elapsed < self.config.queue_seconds:
            return
        if export.stalls or elapsed < self.config.queue_seconds + self.config.run_seconds:
            export.status = "processing"
            return
        if export.fails:
            export.status = "failed"
            return
        name = f"activities-{self.config.chartmogul_account}-{export.export_id}.zip"
        export.file_name, export.signature = self.files.publish_bytes(
            name, self._render(export, name), self.config.file_ttl_seconds
        )
        export.expires = time.time() + self.config.file_ttl_seconds
        if self.faults.take("expired_url"):
            export.expires = time.time() - 1
            self.files.expire(export.file_name)
        export.status = self.config.chartmogul_success_word

    def _render(self, export: Export, name: str) -> bytes:
        """The export's zip; the same query over unchanged data reuses the zip made before.

        Only the CSV member's name differs between two such exports (it carries the export
        id, always of the same length), so a kept zip is renamed, not built again: a large
        export is rendered once, not in the middle of every sync that asks for it.
        """
        key = (
            export.activity_type,
            export.start,
            export.end,
            self.data.version,
            tuple(self.data.columns),
            self.config.chartmogul_bom,
        )
        served = self.served.zip() if self.served is not None else None
        if served is not None:
            return served
        member = name.replace(".zip", ".csv").encode()
        if self.faults.take("bad_csv_row"):  # a one-off broken file is never kept
            rows = self.data.select(export.activity_type, export.start, export.end)
            return self.files.render(name, self.data.columns, rows, bad_row=bool(rows))
        with self._render_lock:
            kept = self._rendered.get(key)
            if kept is not None:
                old_member, body = kept
                if len(old_member) == len(member) and body.count(old_member) == 2:
                    return body.replace(old_member, member)
            rows = self.data.select(export.activity_type, export.start, export.end)
            body = self.files.render(name, self.data.columns, rows)
            self._rendered[key] = (member, body)
            while len(self._rendered) > RENDERED_EXPORTS_KEPT:
                del self._rendered[next(iter(self._rendered))]
            return body

    def _view(self, export: Export) -> dict[str, Any]:
        done = export.file_name is not None and export.status not in {
            "pending",
            "processing",
            "failed",
        }
        return {
            "id": export.export_id,
            "status": export.status,
            "file_url": self.files.url(export.file_name, export.signature, export.expires)
            if done
            else None,
            "params": {
                "kind": "activities",
                "params": {
                    "activity_type": export.activity_type,
                    "start_date": export.start.isoformat(timespec="milliseconds"),
                    "end_date": export.end.isoformat(timespec="milliseconds"),
                },
            },
            "expires_at": _iso(export.expires) if done else None,
            "created_at": _iso(export.created),
        }


def _s3_error(code: str, message: str, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status=status, content_type="application/xml")


class FileHost:
    """The S3-like host of export zips."""

    def __init__(
        self, config: UpstreamConfig, faults: Faults, violations: list[str] | None = None
    ) -> None:
        self.config = config
        self.faults = faults
        self.gate = FaultGate(faults)
        self.base_url = ""
        self.violations: list[str] = [] if violations is None else violations
        self._dir = tempfile.TemporaryDirectory(prefix="activities-upstream-")
        self._files: dict[str, tuple[Path, str, float]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Delete the files."""
        self._dir.cleanup()

    def publish(
        self, name: str, columns: list[str], rows: list[dict[str, str]], ttl: float
    ) -> tuple[str, str]:
        """Write a zip holding one CSV and make it downloadable until ``ttl`` passes."""
        bad_row = bool(rows) and self.faults.take("bad_csv_row")
        return self.publish_bytes(name, self.render(name, columns, rows, bad_row=bad_row), ttl)

    def render(
        self, name: str, columns: list[str], rows: list[dict[str, str]], *, bad_row: bool = False
    ) -> bytes:
        """A zip holding one CSV (named after the zip) of ``rows``.

        ``bad_row``: the middle row gets one field too many (the ``bad_csv_row`` fault).
        """
        text = io.StringIO(newline="")
        if self.config.chartmogul_bom:
            text.write("\ufeff")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(columns)
        for number, row in enumerate(rows):
            cells = [row.get(c, "") for c in columns]
            writer.writerow([*cells, "stray"] if bad_row and number == len(rows) // 2 else cells)
        body = io.BytesIO()
        with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name.replace(".zip", ".csv"), text.getvalue().encode("utf-8"))
        return body.getvalue()

    def publish_bytes(self, name: str, body: bytes, ttl: float) -> tuple[str, str]:
        """Make a zip downloadable as ``name`` until ``ttl`` passes."""
        path = Path(self._dir.name) / name
        path.write_bytes(body)
        if self.faults.take("bad_crc"):
            _flip_a_data_byte(path)
        signature = secrets.token_hex(16)
        with self._lock:
            self._files[name] = (path, signature, time.time() + ttl)
        return name, signature

    def expire(self, name: str) -> None:
        """Make a published file's URL expired now (its downloads answer 403)."""
        with self._lock:
            path, signature, _ = self._files[name]
            self._files[name] = (path, signature, time.time() - 1)

    def url(self, name: str | None, signature: str | None, expires: float | None) -> str:
        """The pre-signed URL of a file."""
        ttl = int((expires or time.time()) - time.time())
        return f"{self.base_url}/{name}?X-Amz-Expires={max(ttl, 0)}&X-Amz-Signature={signature}"

    def __call__(self, environ: dict, start_response: Any) -> Any:
        """Serve one WSGI request."""
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if "Authorization" in request.headers:
            self.violations.append(
                f"{request.method} {request.path} carried an Authorization header"
            )
            return _s3_error("InvalidArgument", "Only one auth mechanism allowed", 400)
        fault = self.gate.check("files.get", request)
        if fault is not None:
            return fault
        name = request.path.lstrip("/")
        with self._lock:
            entry = self._files.get(name)
        if entry is None:
            return _s3_error("NoSuchKey", "The specified key does not exist.", 404)
        path, signature, expires = entry
        if request.args.get("X-Amz-Signature") != signature:
            return _s3_error("SignatureDoesNotMatch", "Signature does not match", 403)
        expired = self.faults.expire_files_early or time.time() > expires
        if expired or self.faults.take("expire_file"):
            return _s3_error("AccessDenied", "Request has expired", 403)
        body = path.read_bytes()
        if self.faults.take("truncate"):
            return send_truncated(request, body, "application/zip")
        return Response(body, content_type="application/zip")


def _flip_a_data_byte(path: Path) -> None:
    """Corrupt the compressed data (not the headers), so only the CRC check notices."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    raw[middle] ^= 0xFF
    path.write_bytes(bytes(raw))
