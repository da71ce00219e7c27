"""Per-source machinery shared by the streams of one run: settings, client, scheduler.

Built by :func:`tap_activities.sources.registry.build_runtime`, which knows the sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_activities.export.scheduler import JobScheduler
from tap_activities.export.source import Source
from tap_activities.settings import Settings


@dataclass
class SourceRuntime:
    """What every stream of one source shares during a run."""

    settings: Settings
    client: Source
    scheduler: JobScheduler

    def close(self) -> None:
        """Stop background work."""
        self.scheduler.close()
