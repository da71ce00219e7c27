"""The Tap class: settings, stream discovery, and a sync that plans every stream first."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import click
from singer_sdk.exceptions import ConfigValidationError

from tap_activities import __version__
from tap_activities.errors import ConfigError, TapActivitiesError
from tap_activities.export.runtime import SourceRuntime
from tap_activities.heap import keep_freed_buffers, settle_for_exit
from tap_activities.lifecycle import PREFIX, install_stop_handlers, target_gone
from tap_activities.log_lines import rendered
from tap_activities.redact import REDACTOR, install
from tap_activities.report.summary import log_metrics, log_summary
from tap_activities.report.tally import RunReport
from tap_activities.settings import Settings, parse_settings
from tap_activities.settings_schema import config_findings, schema_of
from tap_activities.singer.batch_storage import check_storage
from tap_activities.singer.output import BufferedSingerWriter
from tap_activities.singer.planning import utc_today
from tap_activities.singer.sdk_hooks import SdkTapHooks, check_required_names
from tap_activities.singer.state_input import check_state, unwrapped
from tap_activities.singer.streams import ExportStream
from tap_activities.sources.registry import SOURCES, SourceEntry, build_runtime
from tap_activities.transfer.run_folder import RunFolder
from tap_activities.transfer.workers import WorkerPool

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SECRET_SETTINGS = tuple(name for entry in SOURCES for name in entry.options.secrets)
"""Settings whose values never appear in a log line or an error."""

TEST_HELP = (
    "Use --test to check each configured source's credentials and host (a People.ai "
    "token and job list, a ChartMogul API key) without creating an export job or "
    "writing any record. Use --test=schema to write the streams' SCHEMA messages only."
)
"""``--test``'s help: what this tap's connection test does (the SDK's says it syncs a
record per stream)."""

PLAN_HELP = (
    "Print what the next sync would export, without exporting: per selected stream its "
    "windows in order, which resume a job kept in --state and which create one, the "
    "upstream's job limits and an estimate. --format=json prints one JSON document. "
    "Calls no upstream and writes no Singer message."
)


LATER_START = (
    "Setting 'start_date' (%s) is later than the first day already exported (%s): "
    "what is loaded stays; runs go on from the bookmarks"
)
"""Said once a sync (and in ``--plan``'s notes) when ``start_date`` moved later than the day
loaded streams began: nothing loaded is deleted or exported again."""


class TapActivities(SdkTapHooks):
    """Bulk activity exports from People.ai and ChartMogul as Singer streams."""

    name = "tap-activities"
    message_writer_class = BufferedSingerWriter

    @classmethod
    def get_plugin_version(cls) -> str:
        """The version in the source (``--version``, ``--about``), not a stale install's."""
        return __version__

    config_jsonschema = schema_of(SOURCES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install()
        self._runtimes: dict[str, SourceRuntime] = {}
        self._settings: Settings | None = None
        self._workers = WorkerPool()
        self.report = RunReport()
        """Every stream's figures in this run: progress, the summary, METRIC lines."""
        super().__init__(*args, **kwargs)
        install_stop_handlers()  # after the SDK's, which would block on a full stdout
        self.register_secrets()

    def register_secrets(self) -> None:
        """Tell the log redactor this run's credential values."""
        REDACTOR.add(*(str(self.config.get(name) or "") for name in SECRET_SETTINGS))

    def config_error(self, exc: ConfigValidationError) -> ConfigError:
        """The SDK's schema findings as one :class:`ConfigError` line.

        The SDK words findings as jsonschema does (``Decimal('1.5') is not of type
        'integer'``) and only warns in ``--discover``. Here every finding is one line that
        names the setting and the expected form, in every mode: the streams depend on the
        settings, and a catalog made from settings that cannot sync would only move the
        error to the nightly run. (So ``--discover`` exits 1 on invalid settings.)
        """
        parse_settings(self.config, SOURCES)  # the tap's own wording, for the tap's settings
        found = "; ".join(config_findings(self.config, exc.schema or {})) or str(exc)
        return ConfigError(f"Invalid settings: {found}")

    def load_state(self, state: dict[str, Any]) -> None:
        """The SDK's, after a check that names the stream and key of anything unusable."""
        state = unwrapped(state)
        check_state(state)
        super().load_state(state)

    def run_connection_test(self) -> bool:
        """``--test``: each configured source's credentials and host, without exporting.

        The SDK's test syncs one record of every stream, which here means an export job
        per stream (the upstream allows two running); and it logs an ERROR line for each
        stream it stops on purpose. This test asks each API something cheap instead: a
        People.ai token and its job list, ChartMogul's authentication test (``GET
        /v1/ping``, which answers pong to a valid key). A failure is the usual one-line
        error.
        """
        for entry in self._configured():
            what = self.runtime(entry.name).client.check_connection()
            self.logger.info("Connection test: %s", what)
        return True

    def _configured(self) -> list[SourceEntry]:
        """The sources whose credentials are set, in the order of :data:`SOURCES`."""
        return [entry for entry in SOURCES if entry.name in self.settings.sources]

    def _check_selection(self) -> None:
        """A catalog that selects streams the tap cannot sync, or none, is an error.

        Never a silent skip. Without ``--catalog`` the SDK selects every stream, so only
        a given catalog is checked; discovery, ``--test`` and ``--about`` never get here.
        """
        catalog = self.input_catalog
        if catalog is None:
            return
        source_of = {cls.name: source for source in SOURCES for cls in source.streams}
        for entry in catalog.streams:
            name = entry.tap_stream_id
            if name in self.streams or not entry.metadata.resolve_selection()[()]:
                continue
            source = source_of.get(name)
            if source is None:
                msg = (
                    f"The catalog selects stream '{name}', which tap-activities does not have "
                    f"(its streams: {', '.join(source_of)})"
                )
                raise ConfigError(msg)
            needed = source.options.credentials
            missing = " and ".join(f"'{n}'" for n in needed if not self.config.get(n))
            msg = f"The catalog selects stream '{name}', but {missing} is not set"
            raise ConfigError(msg)
        if not any(stream.selected for stream in self.streams.values()):
            # Meltano makes such a catalog from a `select` rule that matches nothing (a
            # typo): syncing it would be a green run that loads nothing, night after night.
            msg = (
                f"The catalog selects none of the tap's streams ({', '.join(self.streams)}); "
                "check the selection with `meltano select tap-activities --list` "
                "(a typo in a select rule matches nothing)"
            )
            raise ConfigError(msg)

    def _check_credentials(self, selected: list[ExportStream]) -> None:
        """The credentials of every source with a selected stream, before any export job.

        Streams sync one after the other: without this, a wrong People.ai secret would
        surface only after every other stream had synced, hours into a night. A People.ai
        token (kept for the run) and ChartMogul's authentication test cost one call each.
        """
        for source in dict.fromkeys(stream.source_name for stream in selected):
            what = self.runtime(source).client.check_credentials()
            self.logger.info("Credentials checked: %s", what)

    @property
    def settings(self) -> Settings:
        """The configuration, converted and validated once."""
        if self._settings is None:
            settings = parse_settings(self.config, SOURCES)
            if settings.resync is not None:
                settings.resync.check_streams(
                    cls.name
                    for entry in SOURCES
                    if entry.name in settings.sources
                    for cls in entry.streams
                )
            self._settings = settings
        return self._settings

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--log-level`` (same as ``TAP_ACTIVITIES_LOGLEVEL``).

        ``--test`` keeps the SDK's option but not its help text, which promises one record
        per stream: this tap's test (:meth:`run_connection_test`) exports nothing.
        """
        command = super().get_singer_command()
        for param in command.params:
            if param.name == "test" and isinstance(param, click.Option):
                param.help = TEST_HELP
        command.params.append(click.Option(["--plan"], is_flag=True, default=False, help=PLAN_HELP))
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

    @classmethod
    def invoke(cls, *, plan: bool = False, **options: Any) -> None:  # type: ignore[override]
        """The SDK's, or with ``--plan`` the plan of the next sync (:meth:`print_plan`)."""
        if not plan or options.get("about"):
            super().invoke(**options)
            return
        # Imported here: only --plan reports a plan (a sync starts without these modules).
        from tap_activities.singer.plan_report import PLAN_FORMATS

        style = (options.get("about_format") or "text").lower()
        if style not in PLAN_FORMATS:
            msg = f"--plan prints text or JSON (--format=json), not --format={style}"
            raise ConfigError(msg)
        cls.print_version(print_fn=cls.logger.info)
        config = options.get("config")  # the SDK's parsed --config (files, or ENV)
        state, catalog = options.get("state"), options.get("catalog")
        tap = cls(
            config=getattr(config, "config", None),
            state=None if state is None else json.load(state),
            catalog=None if catalog is None else json.load(catalog),
            parse_env_config=bool(getattr(config, "parse_env", False)),
            validate_config=True,
        )
        tap.print_plan(style)

    def print_plan(self, style: str) -> None:
        """Write the next sync's plan to stdout; no upstream call, no Singer message."""
        from tap_activities.singer.plan_report import plan_document, plan_json, plan_text

        self._check_selection()
        selected = self._selected()
        today = utc_today()
        plans = [(s.source_name, s.next_plan(today), dict(s.stream_state)) for s in selected]
        later = self._later_start((plan.stream, plan.history_kept_from) for _, plan, _ in plans)
        resync = self.settings.resync
        document = plan_document(
            plans,
            {entry.name: entry.limits for entry in SOURCES},
            resync.key if resync else None,
            [LATER_START % later] if later else [],
        )
        text = plan_json(document) if style == "json" else plan_text(document)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def _selected(self) -> list[ExportStream]:
        """The streams a sync exports, in the order it syncs them."""
        return [s for s in self.streams.values() if isinstance(s, ExportStream) and s.selected]

    def _later_start(self, kept: Iterable[tuple[str, str | None]]) -> tuple[str, str] | None:
        """The values of :data:`LATER_START`, when ``start_date`` is later than loaded days."""
        by_day: dict[str, list[str]] = {}
        for stream, day in kept:
            if day is not None:
                by_day.setdefault(day, []).append(stream)
        if not by_day:
            return None
        began = "; ".join(f"{day}: {', '.join(names)}" for day, names in sorted(by_day.items()))
        return str(self.settings.start_date), began

    @classmethod
    def amend_about(cls, text: str, style: str) -> str:
        """``--about`` plus what each source's build decided (``SourceEntry.build_note``).

        People.ai's fragment pass decides how fast a sync is and is chosen when the
        package is built, so it belongs with the version: a field ``fragment_pass`` in
        JSON, a line in text, a section in Markdown.
        """
        for entry in SOURCES:
            if entry.build_note is not None:
                text = entry.build_note.amend_about(text, style)
        return text

    def runtime(self, source_name: str) -> SourceRuntime:
        """The shared client and scheduler of a source, created on first use."""
        if source_name not in self._runtimes:
            runtime = build_runtime(source_name, self.settings, self._workers)
            runtime.scheduler.report = self.report
            self._runtimes[source_name] = runtime
        return self._runtimes[source_name]

    def remember_all_jobs(self) -> None:
        """Put the job ids of every stream's unfinished windows into its state.

        Jobs are created ahead, for later windows and for streams that sync later; a run
        killed now must find all of them in its last STATE, not only the syncing stream's.
        """
        for stream in self.streams.values():
            if isinstance(stream, ExportStream):
                stream.remember_jobs()

    def discover_streams(self) -> list[ExportStream]:
        """One stream per activity type of each configured source."""
        return [cls(tap=self) for entry in self._configured() for cls in entry.streams]

    def sync_all(self) -> None:
        """Plan every selected stream before syncing any, so exports overlap.

        The run's temporary folder is made first, then worker processes are forked (they
        inherit both), before planning starts any thread. The selected sources' clients,
        with the modules of their passes (and the native pass, loaded to log which pass
        runs), are imported before the fork: a worker inherits every module imported by
        then, while one it needs later is imported again by each worker on its way to
        its first part (about 50 ms with two workers on two cores, before a first fragment).
        """
        check_required_names()
        self._check_selection()
        selected = self._selected()
        batch_config = selected[0].get_batch_config(self.config) if selected else None
        if batch_config is not None:
            check_storage(batch_config)  # before a single export job exists
        folder = RunFolder.claim()  # every temporary file of the run, in one folder
        if folder.swept:
            self.logger.info(
                "Removed what runs that ended without cleaning up left in %s: %s",
                folder.path.parent,
                ", ".join(folder.swept[:5]) + (", ..." if len(folder.swept) > 5 else ""),
            )
        try:
            for entry in self._configured():
                if entry.build_note is not None:
                    entry.build_note.log_start(self.logger)
            if selected:
                keep_freed_buffers()  # before the fork: the workers inherit it
                sources = {stream.source_name for stream in selected}
                for entry in self._configured():
                    if entry.name in sources:
                        entry.client_class()  # its modules, inherited rather than imported
                self._workers = WorkerPool.start(self.settings.worker_processes)
            self._check_credentials(selected)
            for stream in selected:
                stream.plan()
            later = self._later_start((s.name, s.history_kept_from) for s in selected)
            if later:
                self.logger.warning(LATER_START, *later)
            super().sync_all()
        finally:
            for runtime in self._runtimes.values():
                runtime.close()
            self._workers.close()
            self._report()
            self.message_writer.flush()
            folder.release()

    def _report(self) -> None:
        """The end of the run: a summary line per stream and the total, and METRIC lines."""
        tallies = self.report.streams
        log_summary(self.logger, tallies)
        for tally in tallies:
            log_metrics(tally)


def _set_log_level(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        logging.getLogger().setLevel(value.upper())


def cli() -> None:
    """Console entry point: the SDK's CLI, with any error as one redacted line and exit 1.

    The tap's own errors say what to do. Anything else is a bug or an environment
    problem; its traceback goes to the log at debug level only (also redacted). The line
    is JSON at error level when meltano reads the log as structured (:mod:`.log_lines`).
    The process ends after it, so the heap is settled for a quick exit (:func:`.settle_for_exit`).
    """
    install()
    try:
        TapActivities.cli()
    except BrokenPipeError:
        target_gone()
    except (TapActivitiesError, FileNotFoundError) as exc:
        _fail(REDACTOR.redact(str(exc)))
    except Exception as exc:
        if type(exc).__name__ == "JSONDecodeError":  # json's, simplejson's or orjson's
            _fail(
                "a --config, --state or --catalog file is not valid JSON "
                f"(line {getattr(exc, 'lineno', '?')} column {getattr(exc, 'colno', '?')})"
            )
        logging.getLogger("tap_activities").debug("unexpected error", exc_info=True)
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        _fail(f"unexpected {REDACTOR.redact(text)} (set TAP_ACTIVITIES_LOGLEVEL=DEBUG for details)")
    finally:
        settle_for_exit()


def _fail(reason: str) -> NoReturn:
    """Write ``tap-activities: error: <reason>`` (redacted by the caller) and exit 1."""
    sys.stderr.write(rendered(f"{PREFIX} {reason}") + "\n")
    sys.exit(1)
