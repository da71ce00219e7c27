"""How many export jobs a source may have at once: what sequences a run's windows.

The scheduler creates a source's jobs while it has room (``open``); the upstream then runs
at most ``running`` of them at a time. ``--plan`` states both and derives its bound from
them, so they are declared once, here per source, and the clients read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobLimits:
    """A source's limits on export jobs, as its API documents them (or the tap's own cap)."""

    title: str
    """The source's name in messages ("People.ai")."""
    open: int
    """Jobs the tap keeps created and not yet finished (queued and running together)."""
    running: int | None = None
    """Jobs the upstream runs at once; None when its API documents no such limit."""
    open_is_documented: bool = True
    """Whether ``open`` is the API's documented limit (else it is the tap's own cap)."""

    @property
    def slots(self) -> int:
        """How many jobs can make progress at the same time."""
        return self.running or self.open

    def describe(self) -> str:
        """The limits in one phrase, for ``--plan``."""
        parts = [f"{self.running} running"] if self.running else []
        whose = "" if self.open_is_documented else " (the tap's own cap)"
        parts.append(f"{self.open} {'queued' if self.running else 'open'}{whose}")
        return f"{self.title}: " + ", ".join(parts)


PEOPLEAI_LIMITS = JobLimits(title="People.ai", open=10, running=2)
"""People.ai's use limits: 2 concurrent export jobs, 10 queued (running included)."""

CHARTMOGUL_LIMITS = JobLimits(title="ChartMogul", open=5, open_is_documented=False)
"""ChartMogul documents no export concurrency; the tap keeps at most 5 open at once."""
