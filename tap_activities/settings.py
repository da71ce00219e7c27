"""Typed, validated view of the tap's configuration.

singer-sdk validates the JSON Schema of the settings, but leaves values as the user wrote
them: dates as strings, numbers as ``decimal.Decimal`` (which ``time.sleep`` rejects) or,
through meltano environment variables, as strings. This module converts everything once, at
start-up, and fails with one line naming the setting, so that no code further down has to
wonder about the type of a value.

The settings every run has are declared here, each source's in its own package
(``sources/*/settings.py``, a :class:`SourceOptions`). A declaration is a schema property,
and its ``default`` is the one place a default is written: the schema shows it, and the
typed view takes it from there (:func:`defaults_of`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_activities.errors import ConfigError

# Numbers are also accepted as strings: meltano passes environment variables as text.
NUMBER = th.CustomType({"type": ["number", "string"]})
INTEGER = th.CustomType({"type": ["integer", "string"]})

RANGE_SETTINGS = (
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
        "resync",
        # Also text: a JSON object in an environment variable, however meltano passes it.
        th.CustomType(
            {
                "type": ["object", "string"],
                "properties": {
                    "streams": {"type": "array", "items": {"type": "string"}},
                    "start_date": {"type": "string"},
                    "end_date": {"type": "string"},
                },
            }
        ),
        description=(
            'Export a range of days again, once, for chosen streams: {"streams": [names] or '
            '["*"], "start_date": "YYYY-MM-DD", "end_date": "YYYY-MM-DD"} (inclusive). '
            "Bookmarks do not move; a range done is not exported again."
        ),
    ),
)
"""The days to export, and a range to export again: the schema's first settings."""


RUN_SETTINGS = (
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
            "Read timeout of one HTTP request, in seconds (downloads get at least 60 s per 20 MB)."
        ),
    ),
    th.Property(
        "max_retry_seconds",
        NUMBER,
        default=600,
        description=(
            "Total time spent retrying one failing HTTP call (429, 5xx, resets) before giving up."
        ),
    ),
    th.Property(
        "progress_interval_seconds",
        NUMBER,
        default=10,
        description=(
            "Least seconds between two progress lines of a syncing stream (windows, jobs, "
            "bytes, records, time left), logged at INFO."
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
            "default: one per CPU core, at most download_workers, and 0 on a one-core "
            "machine; 0: in the tap's own threads). Worker processes need Linux; "
            "elsewhere the tap's threads do this work."
        ),
    ),
)
"""How every source's exports run: the schema's last settings, after the sources'."""


def defaults_of(properties: Iterable[th.Property]) -> dict[str, Any]:
    """The defaults the schema states for ``properties``, by setting name."""
    return {p.name: p.default for p in properties if p.default is not None}


DEFAULTS = defaults_of(RUN_SETTINGS)

OwnSettings = TypeVar("OwnSettings")


@dataclass(frozen=True)
class SourceOptions(Generic[OwnSettings]):
    """A source's settings: as the schema lists them, and read into the source's own type."""

    title: str
    """The source's name in messages ("People.ai")."""
    properties: tuple[th.Property, ...]
    """Its settings, in the order the schema lists them, each with its default."""
    credentials: tuple[str, ...]
    """The settings that enable the source; it needs all of them."""
    secrets: tuple[str, ...]
    """Its settings whose values never appear in a log line or an error."""
    read: Callable[[Mapping[str, Any]], OwnSettings | None]
    """The source's own settings, checked; None when none of its credentials is set."""


class Configurable(Protocol):
    """A source as the settings see it: a line of ``sources.registry.SOURCES``."""

    @property
    def name(self) -> str:
        """The source's key (``peopleai``)."""
        ...

    @property
    def options(self) -> SourceOptions[Any]:
        """Its settings."""
        ...


@dataclass(frozen=True)
class Settings:
    """Everything the tap needs, converted and checked."""

    start_date: dt.date
    end_date: dt.date
    poll_interval_seconds: float
    job_timeout_seconds: float
    request_timeout_seconds: float
    max_retry_seconds: float
    download_workers: int
    worker_processes: int
    """Processes for the CPU-bound pass over downloaded parts (0: the download threads)."""
    sources: Mapping[str, Any]
    """Each configured source's own settings (its ``SourceOptions.read``), by source name."""
    resync: Resync | None = None
    """The range to export again, when the ``resync`` setting is set."""
    progress_interval_seconds: float = 10.0
    """Least seconds between two progress lines of a stream."""


@dataclass(frozen=True)
class Resync:
    """The ``resync`` setting: the days ``start..end`` of ``streams`` (or all) once more."""

    streams: tuple[str, ...]
    """Stream names, or ``("*",)`` for every selected stream."""
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        """The range as state remembers it once done (``2024-03-01..2024-03-31``)."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def covers(self, stream: str) -> bool:
        """Whether the re-sync concerns ``stream``."""
        return "*" in self.streams or stream in self.streams

    def check_streams(self, known: Iterable[str]) -> None:
        """Refuse a stream name the tap does not have, before any job is created."""
        known = tuple(known)
        for name in self.streams:
            if name != "*" and name not in known:
                msg = (
                    f"Setting 'resync' names stream '{name}', which is not one of the "
                    f"configured streams ({', '.join(known)})."
                )
                raise ConfigError(msg)


def parse_settings(
    config: Mapping[str, Any],
    sources: Iterable[Configurable],
    *,
    today: dt.date | None = None,
) -> Settings:
    """Convert the raw config into :class:`Settings` or raise :class:`ConfigError`.

    Args:
        config: The tap's configuration as singer-sdk hands it over.
        sources: The sources the tap knows (``sources.registry.SOURCES``).
        today: The current UTC date (injectable for tests).

    Returns:
        The validated settings.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    start = _date(config, "start_date", required=True)
    given_end = _date(config, "end_date")
    end = given_end or today
    if end < start and given_end is None:
        msg = (
            f"Setting 'start_date' ({start}) is after today ({today} UTC), the default "
            "'end_date': nothing can be exported yet; set a start_date in the past."
        )
        raise ConfigError(msg)
    if end < start:
        msg = f"Setting 'end_date' ({end}) is before 'start_date' ({start})."
        raise ConfigError(msg)
    workers = DEFAULTS["download_workers"]
    download_workers = int(
        number_setting(config, "download_workers", workers, minimum=1, maximum=16, whole=True)
    )
    return Settings(
        start_date=start,
        end_date=end,
        poll_interval_seconds=_run_number(config, "poll_interval_seconds", minimum=0.0),
        job_timeout_seconds=_run_number(config, "job_timeout_seconds", minimum=1e-3),
        request_timeout_seconds=_run_number(config, "request_timeout_seconds", minimum=1e-3),
        max_retry_seconds=_run_number(config, "max_retry_seconds", minimum=0.0),
        download_workers=download_workers,
        worker_processes=int(
            number_setting(
                config,
                "worker_processes",
                default_worker_processes(download_workers),
                minimum=0,
                maximum=16,
                whole=True,
            )
        ),
        sources=_own_settings(config, sources),
        resync=read_resync(config.get("resync"), start, end),
        progress_interval_seconds=_run_number(config, "progress_interval_seconds", minimum=0.0),
    )


def read_resync(raw: Any, first: dt.date, last: dt.date) -> Resync | None:
    """The ``resync`` setting checked against the days to export (``first..last``)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == {}:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, Mapping):
        msg = (
            'Setting \'resync\' must be an object {"streams": [...], "start_date": ..., '
            '"end_date": ...}.'
        )
        raise ConfigError(msg)
    streams = raw.get("streams")
    if not streams or not isinstance(streams, list) or not all(isinstance(n, str) for n in streams):
        msg = "Setting 'resync.streams' must be a list of stream names, or [\"*\"]."
        raise ConfigError(msg)
    start = _date(raw, "start_date", required=True, setting="resync.start_date")
    end = _date(raw, "end_date", required=True, setting="resync.end_date")
    assert start is not None  # required
    assert end is not None
    if end < start:
        msg = f"Setting 'resync.end_date' ({end}) is before 'resync.start_date' ({start})."
        raise ConfigError(msg)
    if start < first or end > last:
        msg = (
            f"Setting 'resync' range {start}..{end} is outside the days to export "
            f"('start_date'..'end_date': {first}..{last})."
        )
        raise ConfigError(msg)
    return Resync(streams=tuple(streams), start=start, end=end)


def _run_number(config: Mapping[str, Any], name: str, *, minimum: float) -> float:
    return number_setting(config, name, DEFAULTS[name], minimum=minimum)


def _own_settings(config: Mapping[str, Any], sources: Iterable[Configurable]) -> dict[str, Any]:
    """The settings of every source whose credentials are set; at least one must be."""
    sources = tuple(sources)
    configured = {}
    for source in sources:
        own = source.options.read(config)
        if own is not None:
            configured[source.name] = own
    if not configured:
        wanted = " and/or ".join(
            " and ".join(f"'{name}'" for name in source.options.credentials)
            + f" ({source.options.title})"
            for source in sources
        )
        msg = f"No source configured: set {wanted}."
        raise ConfigError(msg)
    return configured


def api_url(config: Mapping[str, Any], name: str, default: str) -> str:
    """Return a base URL, refusing plain http except on a loopback address.

    Credentials travel with every API call; over plain http they would be readable by
    anyone on the path. Loopback stays allowed for the local upstream and for tunnels.
    """
    url = (text_setting(config, name) or default).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f"Setting '{name}' must be an http(s) URL, got {shown(url)}."
        raise ConfigError(msg)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        msg = f"Setting '{name}' uses plain http on a non-loopback host; use https."
        raise ConfigError(msg)
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def text_setting(config: Mapping[str, Any], name: str) -> str:
    """A setting as text, without surrounding blanks (``""`` when it is not set)."""
    value = config.get(name)
    return "" if value is None else str(value).strip()


def _date(
    config: Mapping[str, Any], name: str, *, required: bool = False, setting: str = ""
) -> dt.date | None:
    """The date ``config[name]``; errors name it as ``setting`` (default: ``name``)."""
    raw = text_setting(config, name)
    setting = setting or name
    if not raw:
        if required:
            msg = f"Setting '{setting}' is required (a date, e.g. 2024-01-31)."
            raise ConfigError(msg)
        return None
    try:
        # Accept a plain date or a date-time (meltano users often paste either).
        return (
            dt.date.fromisoformat(raw) if len(raw) == 10 else dt.datetime.fromisoformat(raw).date()
        )
    except ValueError:
        shown_raw = shown(config.get(name))
        msg = f"Setting '{setting}' is not a valid date: {shown_raw} (expected YYYY-MM-DD)."
        raise ConfigError(msg) from None


def default_worker_processes(download_workers: int) -> int:
    """One worker process per CPU core, no more than fragments in flight; none on one core.

    On a single core a process gains nothing over the download threads.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(download_workers, cores or 1) if (cores or 1) > 1 else 0


def number_setting(
    config: Mapping[str, Any],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
    whole: bool = False,
) -> float:
    """A number setting (a ``Decimal``, a number or numeric text), checked against its bounds."""
    raw = config.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return float(default)
    kind = "a whole number" if whole else "a number"
    try:
        value = float(raw)  # Decimal, int, float and numeric strings alike
    except (TypeError, ValueError):
        msg = f"Setting '{name}' must be {kind}, got {shown(raw)}."
        raise ConfigError(msg) from None
    if isinstance(raw, bool) or (whole and value != int(value)) or value != value:  # noqa: PLR0124
        msg = f"Setting '{name}' must be {kind}, got {shown(raw)}."
        raise ConfigError(msg)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
        msg = f"Setting '{name}' must be {kind} {bounds}, got {shown(raw)}."
        raise ConfigError(msg)
    return value


def shown(value: Any) -> str:
    """A setting's value as the user wrote it: text in quotes, numbers plain, no reprs."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return type(value).__name__.replace("dict", "an object").replace("list", "a list")
