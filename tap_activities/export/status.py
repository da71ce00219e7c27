"""Where an export job is, as the upstream reports it: a closed set of states.

An upstream's status word maps onto :class:`ExportStatus`, and only onto it: an unknown
word is an error, never a silent "running".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class ExportStatus(enum.Enum):
    """Where an export job is. The upstream's words map onto these, and only these."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self in {ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELED}


@dataclass(frozen=True)
class JobSnapshot:
    """The upstream's view of a job at one moment."""

    job_id: str
    status: ExportStatus
    body: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
