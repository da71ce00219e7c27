"""The local upstream as most tests use it: small, quick data sets, and configs aimed at it."""

from __future__ import annotations

import datetime as dt

from activities_upstream import UpstreamConfig

START = dt.date(2024, 1, 1)
END = dt.date(2024, 2, 20)


def fast_upstream_config(**overrides) -> UpstreamConfig:
    """Small, quick data sets: seconds, not minutes, per test."""
    values = {
        "seed": 7,
        "start": START,
        "end": END,
        "peopleai_per_day": 3,
        "chartmogul_per_day": 2,
        "queue_seconds": 0.05,
        "run_seconds": 0.1,
        "fragment_records": 40,
    }
    values.update(overrides)
    return UpstreamConfig(**values)


def peopleai_config(up, **overrides) -> dict:
    config = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "peopleai_api_url": up.peopleai_url,
        "peopleai_client_id": up.peopleai_client_id,
        "peopleai_client_secret": up.peopleai_client_secret,
        "poll_interval_seconds": 0.05,
        "max_retry_seconds": 20,
    }
    config.update(overrides)
    return config


def chartmogul_config(up, **overrides) -> dict:
    config = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "chartmogul_api_url": up.chartmogul_url,
        "chartmogul_api_key": up.chartmogul_api_key,
        "poll_interval_seconds": 0.05,
        "max_retry_seconds": 20,
    }
    config.update(overrides)
    return config
