"""The sources the tap knows, and what a run of each needs: its client and its scheduler."""

from __future__ import annotations

from typing import Any

from tap_activities.export.runtime import SourceRuntime
from tap_activities.export.scheduler import JobScheduler
from tap_activities.settings import Settings
from tap_activities.transfer.workers import WorkerPool


def build_runtime(
    source_name: str, settings: Settings, workers: WorkerPool | None = None
) -> SourceRuntime:
    """Create the client and scheduler of a source (``workers``: see :mod:`.workers`)."""
    if source_name == "peopleai":
        from tap_activities.sources.peopleai.client import PeopleAIClient

        assert settings.peopleai is not None
        client: Any = PeopleAIClient(settings.peopleai, settings, workers)
    elif source_name == "chartmogul":
        from tap_activities.sources.chartmogul.client import ChartMogulClient

        assert settings.chartmogul is not None
        client = ChartMogulClient(settings.chartmogul, settings, workers)
    else:
        msg = f"unknown source {source_name!r}"
        raise ValueError(msg)
    scheduler = JobScheduler(
        client,
        poll_interval=settings.poll_interval_seconds,
        job_timeout=settings.job_timeout_seconds,
        max_retry_seconds=settings.max_retry_seconds,
    )
    return SourceRuntime(settings=settings, client=client, scheduler=scheduler)
