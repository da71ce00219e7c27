"""ChartMogul's settings: its API base URL, its API key and the look-back of incremental runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from tap_activities.settings import (
    INTEGER,
    SourceOptions,
    api_url,
    defaults_of,
    number_setting,
    text_setting,
)

PROPERTIES = (
    th.Property(
        "chartmogul_api_url",
        th.StringType,
        default="https://api.chartmogul.com",
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
)
DEFAULTS = defaults_of(PROPERTIES)


@dataclass(frozen=True)
class ChartMogulSettings:
    """Credentials, endpoint and look-back of the ChartMogul Activities Export."""

    api_url: str
    api_key: str
    lookback_days: int


def read_settings(config: Mapping[str, Any]) -> ChartMogulSettings | None:
    """The key, base URL and look-back; None when no API key is set."""
    api_key = text_setting(config, "chartmogul_api_key")
    if not api_key:
        return None
    url = api_url(config, "chartmogul_api_url", DEFAULTS["chartmogul_api_url"])
    lookback = int(
        number_setting(
            config,
            "chartmogul_lookback_days",
            DEFAULTS["chartmogul_lookback_days"],
            minimum=0,
            maximum=365,
            whole=True,
        )
    )
    return ChartMogulSettings(api_url=url, api_key=api_key, lookback_days=lookback)


OPTIONS = SourceOptions(
    title="ChartMogul",
    properties=PROPERTIES,
    credentials=("chartmogul_api_key",),
    secrets=("chartmogul_api_key",),
    read=read_settings,
)
