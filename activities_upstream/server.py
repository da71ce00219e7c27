"""Start and stop the three local servers, and give tests a handle on their insides."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from activities_upstream.chartmogul import ChartMogulApp, FileHost
from activities_upstream.config import UpstreamConfig
from activities_upstream.data import ChartMogulData, PeopleAIData
from activities_upstream.faults import Faults
from activities_upstream.http import LoggedRequest, ServerThread
from activities_upstream.peopleai import PeopleAIApp
from activities_upstream.served import Served

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class PeopleAIView:
    """What a test may ask of the People.ai side."""

    def __init__(self, app: PeopleAIApp) -> None:
        self._app = app

    def records(
        self, activity_type: str, start: dt.date, end: dt.date, by: str = "activity"
    ) -> list[dict[str, Any]]:
        """Exactly the records an export of this range returns (``by``: activity|processed)."""
        return self._app.data.select(activity_type, start, end, by)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job created so far, oldest first."""
        with self._app._lock:
            return [
                j.view(self._app.config)
                for j in sorted(self._app.jobs.values(), key=lambda j: j.created)
            ]

    def mutate(self, day: dt.date, new: int = 0, changed: int = 0) -> list[str]:
        """Add new activities and reprocess old ones on ``day``; returns their uids."""
        return self._app.data.mutate(day, new, changed)

    def issued_tokens(self) -> list[str]:
        """Every bearer token handed out so far (secrets a test must never see in output)."""
        with self._app._lock:
            return list(self._app.tokens)

    @property
    def peak_open_jobs(self) -> int:
        """Most jobs that were Queued or Running at the same time."""
        return self._app.peak_open_jobs

    @property
    def peak_data_requests(self) -> int:
        """Most data requests (fragments) that were being answered at the same time."""
        return self._app.peak_data_requests

    def forget_jobs(self) -> None:
        """Drop every job, as the retention period eventually does."""
        with self._app._lock:
            self._app.jobs.clear()


class ChartMogulView:
    """What a test may ask of the ChartMogul side."""

    def __init__(self, app: ChartMogulApp) -> None:
        self._app = app

    def rows(self, activity_type: str, start: dt.date, end: dt.date) -> list[dict[str, str]]:
        """The CSV rows (header names, text values) of an export of whole days."""
        utc = dt.timezone.utc
        return self._app.data.select(
            activity_type,
            dt.datetime.combine(start, dt.time.min, utc),
            dt.datetime.combine(end, dt.time.max, utc),
        )

    def exports(self) -> list[dict[str, Any]]:
        """Every export created so far."""
        return [self._app._view(e) for e in self._app.exports.values()]

    def mutate(self, day: dt.date, new: int = 0, changed: int = 0) -> list[str]:
        """Add rows dated ``day`` and recompute rows of the days before; returns uuids."""
        return self._app.data.mutate(day, new, changed)


class LocalUpstream:
    """People.ai API, ChartMogul API and file host on ephemeral (or given) 127.0.0.1 ports."""

    def __init__(
        self,
        config: UpstreamConfig | None = None,
        *,
        peopleai_port: int = 0,
        chartmogul_port: int = 0,
        files_port: int = 0,
    ) -> None:
        self.config = config or UpstreamConfig()
        cfg = self.config
        self.faults = Faults()
        self.requests_log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._violations: list[str] = []
        self._files = FileHost(cfg, self.faults, self._violations)
        self._peopleai = PeopleAIApp(
            cfg,
            PeopleAIData(
                cfg.seed,
                cfg.start,
                cfg.end,
                cfg.peopleai_per_day,
                unknown_fields=cfg.unknown_fields,
                compact=cfg.peopleai_compact,
            ),
            self.faults,
            self._violations,
        )
        chartmogul_data = ChartMogulData(
            cfg.seed, cfg.start, cfg.end, cfg.chartmogul_per_day, cfg.chartmogul_extra_column
        )
        self._chartmogul = ChartMogulApp(
            cfg, chartmogul_data, self.faults, self._files, self._violations
        )
        self._servers = [
            ServerThread(
                "peopleai", self._peopleai, peopleai_port, self.requests_log, self._log_lock
            ),
            ServerThread(
                "chartmogul", self._chartmogul, chartmogul_port, self.requests_log, self._log_lock
            ),
            ServerThread("files", self._files, files_port, self.requests_log, self._log_lock),
        ]
        self.peopleai_url, self.chartmogul_url, self.files_url = (s.url for s in self._servers)
        self._files.base_url = self.files_url
        self.peopleai = PeopleAIView(self._peopleai)
        self.chartmogul = ChartMogulView(self._chartmogul)
        self.served = Served()
        """Exact bytes to serve as exports instead of rendered ones (hostile-input tests)."""
        self._peopleai.served = self._chartmogul.served = self.served

    @property
    def peopleai_client_id(self) -> str:
        """The accepted People.ai client id."""
        return self.config.peopleai_client_id

    @property
    def peopleai_client_secret(self) -> str:
        """The accepted People.ai client secret."""
        return self.config.peopleai_client_secret

    @property
    def chartmogul_api_key(self) -> str:
        """The accepted ChartMogul API key."""
        return self.config.chartmogul_api_key

    @property
    def violations(self) -> list[str]:
        """Requests that broke a rule the tap must keep (must stay empty).

        Credentials at a host they do not belong to (either API's, the file host), an
        undocumented parameter or body type on job creation, People.ai's ``/fragment``
        path instead of ``/data``.
        """
        return self._violations

    def describe(self) -> dict[str, str]:
        """URLs and credentials, as the CLI prints them."""
        return {
            "peopleai_url": self.peopleai_url,
            "chartmogul_url": self.chartmogul_url,
            "files_url": self.files_url,
            "peopleai_client_id": self.peopleai_client_id,
            "peopleai_client_secret": self.peopleai_client_secret,
            "chartmogul_api_key": self.chartmogul_api_key,
        }

    def start(self) -> LocalUpstream:
        """Serve in background threads."""
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the export files."""
        for server in self._servers:
            server.stop()
        self._files.close()

    def __enter__(self) -> LocalUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
