"""The Tap class: settings, stream discovery, and a sync that plans every stream first."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_activities.errors import ConfigError, TapActivitiesError
from tap_activities.heap import keep_freed_buffers
from tap_activities.jsonl import fragment_pass
from tap_activities.output import BufferedSingerWriter
from tap_activities.redact import REDACTOR, install
from tap_activities.runtime import SourceRuntime, build_runtime
from tap_activities.settings import (
    CHARTMOGUL_DEFAULT_URL,
    PEOPLEAI_DEFAULT_URL,
    Settings,
    parse_settings,
)
from tap_activities.streams import (
    CHARTMOGUL_STREAMS,
    PEOPLEAI_STREAMS,
    ExportStream,
)
from tap_activities.workers import FragmentWorkers

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SECRET_SETTINGS = ("peopleai_client_id", "peopleai_client_secret", "chartmogul_api_key")
"""Settings whose values never appear in a log line or an error (the client id is the
People.ai "API key")."""

# Numbers are also accepted as strings: meltano passes environment variables as text.
NUMBER = th.CustomType({"type": ["number", "string"]})
INTEGER = th.CustomType({"type": ["integer", "string"]})


class TapActivities(Tap):
    """Bulk activity exports from People.ai and ChartMogul as Singer streams."""

    name = "tap-activities"
    message_writer_class = BufferedSingerWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "start_date",
            th.DateType,
            required=True,
            description="First UTC day to export (YYYY-MM-DD).",
        ),
        th.Property(
            "end_date",
            th.DateType,
            description="Last UTC day to export, inclusive. Default: today (UTC).",
        ),
        th.Property(
            "peopleai_api_url",
            th.StringType,
            default=PEOPLEAI_DEFAULT_URL,
            description="People.ai API base URL.",
        ),
        th.Property(
            "peopleai_client_id",
            th.StringType,
            description="People.ai Activity API client id (key).",
        ),
        th.Property(
            "peopleai_client_secret",
            th.StringType,
            secret=True,
            description="People.ai Activity API client secret.",
        ),
        th.Property(
            "chartmogul_api_url",
            th.StringType,
            default=CHARTMOGUL_DEFAULT_URL,
            description="ChartMogul API base URL.",
        ),
        th.Property(
            "chartmogul_api_key",
            th.StringType,
            secret=True,
            description="ChartMogul API key (HTTP Basic user name).",
        ),
        th.Property(
            "chartmogul_lookback_days",
            INTEGER,
            default=7,
            description=(
                "Days before the bookmark each incremental ChartMogul run exports again, "
                "because ChartMogul recomputes activities after the fact."
            ),
        ),
        th.Property(
            "poll_interval_seconds",
            NUMBER,
            default=30,
            description="Seconds between two status checks of an export job (fractions allowed).",
        ),
        th.Property(
            "job_timeout_seconds",
            NUMBER,
            default=21600,
            description="Deadline of one export job, from creation to completion, in seconds.",
        ),
        th.Property(
            "request_timeout_seconds",
            NUMBER,
            default=60,
            description=(
                "Read timeout of one HTTP request, in seconds "
                "(downloads get at least 60 s per 20 MB)."
            ),
        ),
        th.Property(
            "max_retry_seconds",
            NUMBER,
            default=600,
            description=(
                "Total time spent retrying one failing HTTP call "
                "(429, 5xx, resets) before giving up."
            ),
        ),
        th.Property(
            "download_workers",
            INTEGER,
            default=4,
            description="Export parts downloaded in parallel (1-16).",
        ),
        th.Property(
            "worker_processes",
            INTEGER,
            description=(
                "Processes for the CPU-bound pass over downloaded exports (People.ai "
                "fragments validated, null-filled and framed or compressed; ChartMogul CSVs "
                "typed and framed in ranges of rows), so more than one core works (0-16; "
                "default: one per CPU core, at most download_workers; 0: in the tap's own "
                "threads). Linux only."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install()
        self._runtimes: dict[str, SourceRuntime] = {}
        self._settings: Settings | None = None
        self._workers = FragmentWorkers()
        super().__init__(*args, **kwargs)
        self._register_secrets()

    def _register_secrets(self) -> None:
        """Tell the log redactor this run's credential values."""
        REDACTOR.add(*(str(self.config.get(name) or "") for name in SECRET_SETTINGS))

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check, its findings as one :class:`ConfigError` line.

        The SDK logs each finding as an ERROR line and exits; a user gets one line that
        names the setting instead, with any credential value in it redacted.
        """
        self._register_secrets()
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            found = "; ".join(exc.errors) or str(exc)
            msg = f"Invalid settings: {found}"
            raise ConfigError(msg) from None

    @property
    def settings(self) -> Settings:
        """The configuration, converted and validated once."""
        if self._settings is None:
            self._settings = parse_settings(self.config)
        return self._settings

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--log-level`` (same as ``TAP_ACTIVITIES_LOGLEVEL``)."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--log-level"],
                type=click.Choice(LOG_LEVELS, case_sensitive=False),
                expose_value=False,
                is_eager=True,
                callback=_set_log_level,
                help="Log level (default INFO, or TAP_ACTIVITIES_LOGLEVEL). Secrets are "
                "redacted at every level.",
            )
        )
        return command

    def runtime(self, source_name: str) -> SourceRuntime:
        """The shared client and scheduler of a source, created on first use."""
        if source_name not in self._runtimes:
            self._runtimes[source_name] = build_runtime(source_name, self.settings, self._workers)
        return self._runtimes[source_name]

    def discover_streams(self) -> list[ExportStream]:
        """One stream per activity type of each configured source."""
        settings = self.settings
        streams: list[ExportStream] = []
        if settings.peopleai is not None:
            streams.extend(cls(tap=self) for cls in PEOPLEAI_STREAMS)
        if settings.chartmogul is not None:
            streams.extend(cls(tap=self) for cls in CHARTMOGUL_STREAMS)
        return streams

    def sync_all(self) -> None:
        """Plan every selected stream before syncing any, so exports overlap.

        Worker processes are forked first, before planning starts any thread.
        """
        if any(
            isinstance(stream, ExportStream) and stream.selected for stream in self.streams.values()
        ):
            keep_freed_buffers()  # before the fork: the workers inherit it
            self._workers = FragmentWorkers.start(self.settings.worker_processes)
        if self.settings.peopleai is not None:
            self.logger.info("People.ai fragment pass: %s", fragment_pass())
        try:
            for stream in self.streams.values():
                if isinstance(stream, ExportStream) and stream.selected:
                    stream.plan()
            super().sync_all()
        finally:
            for runtime in self._runtimes.values():
                runtime.close()
            self._workers.close()
            self.message_writer.flush()


def _set_log_level(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        logging.getLogger().setLevel(value.upper())


def cli() -> None:
    """Console entry point: the SDK's CLI, with any error as one redacted line and exit 1.

    The tap's own errors say what to do. Anything else is a bug or an environment
    problem; its traceback goes to the log at debug level only (also redacted).
    """
    install()
    try:
        TapActivities.cli()
    except (TapActivitiesError, FileNotFoundError) as exc:
        sys.stderr.write(f"tap-activities: error: {REDACTOR.redact(str(exc))}\n")
        sys.exit(1)
    except Exception as exc:
        if type(exc).__name__ == "JSONDecodeError":  # json's, simplejson's or orjson's
            sys.stderr.write(
                "tap-activities: error: a --config, --state or --catalog file is not valid "
                f"JSON (line {getattr(exc, 'lineno', '?')} column {getattr(exc, 'colno', '?')})\n"
            )
            sys.exit(1)
        logging.getLogger("tap_activities").debug("unexpected error", exc_info=True)
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(
            f"tap-activities: error: unexpected {REDACTOR.redact(text)} "
            "(set TAP_ACTIVITIES_LOGLEVEL=DEBUG for details)\n"
        )
        sys.exit(1)
