"""The sources the tap knows: one line each in :data:`SOURCES`, and what a run of one needs.

A line says everything the tap asks of a source besides its client's own contract
(:class:`~tap_activities.export.source.Source`): its name, its settings, where its client
is, its streams, and anything about its build the tap should tell. The tap's settings
schema, its typed settings, stream discovery, the credential checks and the secrets the
log redactor hides are all read from here, so adding a source is adding its package and
its line.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tap_activities.export.job_limits import CHARTMOGUL_LIMITS, PEOPLEAI_LIMITS, JobLimits
from tap_activities.export.runtime import SourceRuntime
from tap_activities.export.scheduler import JobScheduler
from tap_activities.settings import Settings, SourceOptions
from tap_activities.sources.chartmogul import settings as chartmogul_settings
from tap_activities.sources.chartmogul.streams import CHARTMOGUL_STREAMS
from tap_activities.sources.peopleai import settings as peopleai_settings
from tap_activities.sources.peopleai.lines.native_status import FRAGMENT_PASS
from tap_activities.sources.peopleai.streams import PEOPLEAI_STREAMS
from tap_activities.transfer.workers import WorkerPool

if TYPE_CHECKING:
    from tap_activities.export.source import Source
    from tap_activities.singer.streams import ExportStream


class BuildNote(Protocol):
    """What a source's build decides that a user should see (People.ai: its fragment pass)."""

    def amend_about(self, text: str, style: str) -> str:
        """``--about``'s text in ``style`` (text, json, markdown), with the note added."""
        ...

    def log_start(self, logger: logging.Logger) -> None:
        """Log the note as a sync that reads the source starts."""
        ...


@dataclass(frozen=True)
class SourceEntry:
    """One bulk-export API, as the tap knows it."""

    name: str
    """Its key: in its streams' ``source_name``, and in ``Settings.sources``."""
    options: SourceOptions[Any]
    """Its settings: schema properties, credentials, secrets, and their typed reading."""
    client: str
    """Its client class (a :class:`~tap_activities.export.source.Source`), as an entry point
    names it (``module:Class``), called with ``(its own settings, Settings, WorkerPool)``.
    Imported when a run first needs it: ``--about``, ``--help`` and discovery never do."""
    streams: tuple[type[ExportStream], ...]
    """One stream class per activity type."""
    limits: JobLimits
    """How many of its export jobs may be open and running at once (``--plan`` says)."""
    build_note: BuildNote | None = None
    """What its build decides that ``--about`` and the sync's log should tell."""

    def client_class(self) -> Callable[[Any, Settings, WorkerPool | None], Source]:
        """The client class, imported now."""
        module, _, name = self.client.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


SOURCES: tuple[SourceEntry, ...] = (
    SourceEntry(
        name="peopleai",
        options=peopleai_settings.OPTIONS,
        client="tap_activities.sources.peopleai.client:PeopleAIClient",
        streams=PEOPLEAI_STREAMS,
        limits=PEOPLEAI_LIMITS,
        build_note=FRAGMENT_PASS,
    ),
    SourceEntry(
        name="chartmogul",
        options=chartmogul_settings.OPTIONS,
        client="tap_activities.sources.chartmogul.client:ChartMogulClient",
        streams=CHARTMOGUL_STREAMS,
        limits=CHARTMOGUL_LIMITS,
    ),
)
"""Every source the tap knows, in the order of its settings and streams."""


def source(name: str) -> SourceEntry:
    """The line of the source called ``name``."""
    for entry in SOURCES:
        if entry.name == name:
            return entry
    msg = f"unknown source {name!r}"
    raise ValueError(msg)


def build_runtime(
    source_name: str, settings: Settings, workers: WorkerPool | None = None
) -> SourceRuntime:
    """Create the client and scheduler of a source (``workers``: see :mod:`.workers`)."""
    client = source(source_name).client_class()(settings.sources[source_name], settings, workers)
    scheduler = JobScheduler(
        client,
        poll_interval=settings.poll_interval_seconds,
        job_timeout=settings.job_timeout_seconds,
        max_retry_seconds=settings.max_retry_seconds,
    )
    return SourceRuntime(settings=settings, client=client, scheduler=scheduler)
