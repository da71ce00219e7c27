"""The table of sources: each line complete and consistent, read the same way everywhere."""

from __future__ import annotations

import pytest

from tap_activities.errors import ConfigError
from tap_activities.export.source import DeflatingSource, ReconcilingSource, Source
from tap_activities.settings import RANGE_SETTINGS, RUN_SETTINGS, parse_settings
from tap_activities.sources.registry import SOURCES, build_runtime, source
from tap_activities.tap import SECRET_SETTINGS, TapActivities

SETTINGS = TapActivities.config_jsonschema
CREDENTIALS = {name: f"x-{name}" for entry in SOURCES for name in entry.options.credentials}
"""Every source's credentials set: every source configured."""


def test_each_source_has_its_streams_and_settings_and_no_two_share_a_name():
    names = [entry.name for entry in SOURCES]
    streams = [cls.name for entry in SOURCES for cls in entry.streams]
    settings = [p.name for entry in SOURCES for p in entry.options.properties]
    assert len(set(names)) == len(names)
    assert len(set(streams)) == len(streams)
    assert len(set(settings)) == len(settings)
    for entry in SOURCES:
        assert entry.streams, entry.name
        assert all(cls.source_name == entry.name for cls in entry.streams), entry.name
        own = {p.name for p in entry.options.properties}
        assert set(entry.options.credentials) <= own, entry.name
        assert set(entry.options.secrets) <= own, entry.name


def test_the_schema_lists_the_days_then_each_source_then_how_exports_run():
    expected = [
        *(p.name for p in RANGE_SETTINGS),
        *(p.name for entry in SOURCES for p in entry.options.properties),
        *(p.name for p in RUN_SETTINGS),
    ]
    # The SDK appends its own settings (stream maps, flattening, BATCH) behind the tap's.
    assert list(SETTINGS["properties"])[: len(expected)] == expected


def test_every_default_the_schema_states_is_the_one_the_settings_take():
    settings = parse_settings({"start_date": "2024-01-01", **CREDENTIALS}, SOURCES)
    typed = {
        "poll_interval_seconds": settings.poll_interval_seconds,
        "job_timeout_seconds": settings.job_timeout_seconds,
        "request_timeout_seconds": settings.request_timeout_seconds,
        "max_retry_seconds": settings.max_retry_seconds,
        "progress_interval_seconds": settings.progress_interval_seconds,
        "download_workers": settings.download_workers,
        "peopleai_api_url": settings.sources["peopleai"].api_url,
        "chartmogul_api_url": settings.sources["chartmogul"].api_url,
        "chartmogul_lookback_days": settings.sources["chartmogul"].lookback_days,
    }
    stated = {
        name: spec["default"] for name, spec in SETTINGS["properties"].items() if "default" in spec
    }
    assert stated == typed


def test_each_client_keeps_the_contract_and_declares_what_more_it_can_do():
    settings = parse_settings({"start_date": "2024-01-01", **CREDENTIALS}, SOURCES)
    capabilities = {}
    for entry in SOURCES:
        runtime = build_runtime(entry.name, settings)
        try:
            client = runtime.client
            assert isinstance(client, Source), entry.name
            assert client.name == entry.name
            capabilities[entry.name] = (
                isinstance(client, ReconcilingSource),
                isinstance(client, DeflatingSource),
            )
        finally:
            runtime.close()
    assert capabilities == {"peopleai": (True, True), "chartmogul": (False, False)}


def test_the_secrets_the_redactor_learns_are_every_sources():
    assert set(SECRET_SETTINGS) == {
        "peopleai_client_id",
        "peopleai_client_secret",
        "chartmogul_api_key",
    }


def test_without_any_source_the_line_names_every_sources_credentials():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"start_date": "2024-01-01"}, SOURCES)
    assert str(caught.value) == (
        "No source configured: set 'peopleai_client_id' and 'peopleai_client_secret' "
        "(People.ai) and/or 'chartmogul_api_key' (ChartMogul)."
    )


def test_an_unknown_source_is_an_error():
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        source("nope")
