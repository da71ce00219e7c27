"""Typed, validated view of the tap's configuration.

singer-sdk validates the JSON Schema of the settings, but leaves values as the user wrote
them: dates as strings, numbers as ``decimal.Decimal`` (which ``time.sleep`` rejects) or,
through meltano environment variables, as strings. This module converts everything once, at
start-up, and fails with one line naming the setting, so that no code further down has to
wonder about the type of a value.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tap_activities.errors import ConfigError

PEOPLEAI_DEFAULT_URL = "https://api.people.ai"
CHARTMOGUL_DEFAULT_URL = "https://api.chartmogul.com"


@dataclass(frozen=True)
class PeopleAISettings:
    """Credentials and endpoint of the People.ai Raw Activity Data API."""

    api_url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class ChartMogulSettings:
    """Credentials, endpoint and look-back of the ChartMogul Activities Export."""

    api_url: str
    api_key: str
    lookback_days: int


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
    """Processes for the pass over downloaded People.ai fragments (0: download threads)."""
    peopleai: PeopleAISettings | None
    chartmogul: ChartMogulSettings | None


def parse_settings(config: Mapping[str, Any], *, today: dt.date | None = None) -> Settings:
    """Convert the raw config into :class:`Settings` or raise :class:`ConfigError`.

    Args:
        config: The tap's configuration as singer-sdk hands it over.
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
    download_workers = int(
        _number(config, "download_workers", 4, minimum=1, maximum=16, whole=True)
    )
    settings = Settings(
        start_date=start,
        end_date=end,
        poll_interval_seconds=_number(config, "poll_interval_seconds", 30.0, minimum=0.0),
        job_timeout_seconds=_number(config, "job_timeout_seconds", 6 * 3600.0, minimum=1e-3),
        request_timeout_seconds=_number(config, "request_timeout_seconds", 60.0, minimum=1e-3),
        max_retry_seconds=_number(config, "max_retry_seconds", 600.0, minimum=0.0),
        download_workers=download_workers,
        worker_processes=int(
            _number(
                config,
                "worker_processes",
                default_worker_processes(download_workers),
                minimum=0,
                maximum=16,
                whole=True,
            )
        ),
        peopleai=_peopleai(config),
        chartmogul=_chartmogul(config),
    )
    if settings.peopleai is None and settings.chartmogul is None:
        msg = (
            "No source configured: set 'peopleai_client_id' and 'peopleai_client_secret' "
            "(People.ai) and/or 'chartmogul_api_key' (ChartMogul)."
        )
        raise ConfigError(msg)
    return settings


def _peopleai(config: Mapping[str, Any]) -> PeopleAISettings | None:
    client_id = _text(config, "peopleai_client_id")
    client_secret = _text(config, "peopleai_client_secret")
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        missing = "peopleai_client_secret" if client_id else "peopleai_client_id"
        msg = f"Setting '{missing}' is required when the other People.ai credential is set."
        raise ConfigError(msg)
    url = api_url(config, "peopleai_api_url", PEOPLEAI_DEFAULT_URL)
    return PeopleAISettings(api_url=url, client_id=client_id, client_secret=client_secret)


def _chartmogul(config: Mapping[str, Any]) -> ChartMogulSettings | None:
    api_key = _text(config, "chartmogul_api_key")
    if not api_key:
        return None
    url = api_url(config, "chartmogul_api_url", CHARTMOGUL_DEFAULT_URL)
    lookback = int(
        _number(config, "chartmogul_lookback_days", 7, minimum=0, maximum=365, whole=True)
    )
    return ChartMogulSettings(api_url=url, api_key=api_key, lookback_days=lookback)


def api_url(config: Mapping[str, Any], name: str, default: str) -> str:
    """Return a base URL, refusing plain http except on a loopback address.

    Credentials travel with every API call; over plain http they would be readable by
    anyone on the path. Loopback stays allowed for the local upstream and for tunnels.
    """
    url = (_text(config, name) or default).rstrip("/")
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


def _text(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    return "" if value is None else str(value).strip()


def _date(config: Mapping[str, Any], name: str, *, required: bool = False) -> dt.date | None:
    raw = _text(config, name)
    if not raw:
        if required:
            msg = f"Setting '{name}' is required (a date, e.g. 2024-01-31)."
            raise ConfigError(msg)
        return None
    try:
        # Accept a plain date or a date-time (meltano users often paste either).
        return (
            dt.date.fromisoformat(raw) if len(raw) == 10 else dt.datetime.fromisoformat(raw).date()
        )
    except ValueError:
        shown_raw = shown(config.get(name))
        msg = f"Setting '{name}' is not a valid date: {shown_raw} (expected YYYY-MM-DD)."
        raise ConfigError(msg) from None


def default_worker_processes(download_workers: int) -> int:
    """One worker process per CPU core, no more than fragments in flight; none on one core.

    On a single core a process gains nothing over the download threads.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(download_workers, cores or 1) if (cores or 1) > 1 else 0


def _number(
    config: Mapping[str, Any],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
    whole: bool = False,
) -> float:
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
