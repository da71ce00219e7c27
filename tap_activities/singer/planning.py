"""What a stream's next sync exports: one pure decision, used by the sync and by ``--plan``.

A stream's windows come from three places, in this order:

- its own plan (``plan_windows`` of its source: history, deltas, look-back) from the
  bookmark, the only windows that move it;
- a **backfill**: when ``start_date`` is earlier than the first day its history was built
  from (``history_start`` in state), the missing days, newest first, in windows of at most
  a year, of the export type that selects by activity date (People.ai ``snapshot``);
- a **re-sync**: the ``resync`` setting's range, once, in the same kind of windows.

Each window resumes the job kept in state under its key (``jobs``), when its export type
matches, or creates a new one. :func:`plan_stream` reads the state and writes nothing;
what it decides for state is held in the :class:`StreamPlan` and recorded by the sync.
State keys kept here, per stream::

    "history_start": "2024-01-01",   # first day the stream's history was exported from
    "resync_done": ["2024-03-01..2024-03-31"],  # re-synced ranges, newest last (<= 10)
    "resync_progress": {"range": "2024-01-01..2025-06-30", "through": "2024-12-31"}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tap_activities.export.windows import ONE_DAY, Window, snapshot_windows, snapshot_windows_back

if TYPE_CHECKING:
    from tap_activities.settings import Settings

RESYNC_DONE_KEPT = 10
"""Re-synced ranges a stream's state remembers (the oldest is forgotten first)."""

SYNC, BACKFILL, RESYNC = "sync", "backfill", "resync"
"""Why a window is exported: the bookmark's own windows, an earlier start_date, a re-sync."""


def utc_today() -> dt.date:
    """Today's date in UTC: the day a plan is made."""
    return dt.datetime.now(dt.timezone.utc).date()


def state_date(value: Any) -> dt.date | None:
    """A day kept in state (``bookmark``, ``delta_start``), or None when absent."""
    return dt.date.fromisoformat(str(value)) if value else None


@dataclass(frozen=True)
class WindowPlan:
    """A run's windows with their export types, and what planning them decided for state.

    Planning reads the stream's state and writes nothing: what it decides (People.ai:
    whether history is still being built, and from which day deltas will follow) is held
    here, and the runner records it in the state once, when the plan is made.
    """

    windows: list[tuple[Window, str | None]]
    """The windows in the order they are exported, each with its export type."""
    state: Mapping[str, Any] = field(default_factory=dict)
    """Keys the stream's state takes, in this order."""
    drop: tuple[str, ...] = ()
    """Keys the stream's state loses."""

    def record(self, state: dict[str, Any]) -> None:
        """Write what the plan decided into the stream's ``state``."""
        state.update(self.state)
        for key in self.drop:
            state.pop(key, None)


class Plannable(Protocol):
    """A stream class as planning sees it (every ``WindowRunner`` subclass)."""

    name: str
    history_export_type: str | None

    @classmethod
    def plan_windows(
        cls, state: Mapping[str, Any], settings: Settings, today: dt.date
    ) -> WindowPlan:
        """The stream's own windows from its bookmark."""
        ...


@dataclass(frozen=True)
class PlannedWindow:
    """One window of the next sync: what it exports, why, and whether its job exists."""

    window: Window
    export_type: str | None
    purpose: str = SYNC
    """``sync`` (moves the bookmark), ``backfill`` or ``resync`` (never move it)."""
    resume_job_id: str | None = None
    """The job kept in state that this window picks up; None: a new job is created."""
    resync_range: str | None = None
    """The re-sync range this window belongs to (``resync`` only)."""

    @property
    def state_key(self) -> str:
        """Its key in the state's ``jobs``: the window, prefixed unless a sync window.

        A re-sync or backfill window may cover the same days as a sync window of the same
        run; their jobs must not share a key.
        """
        key = self.window.key
        return key if self.purpose == SYNC else f"{self.purpose}:{key}"

    @property
    def job(self) -> str:
        """``resume`` or ``new``, as ``--plan`` shows it."""
        return "resume" if self.resume_job_id else "new"


@dataclass(frozen=True)
class StreamPlan:
    """A stream's windows for the next sync, and what planning them decided for state."""

    stream: str
    windows: list[PlannedWindow]
    decided: WindowPlan
    """The stream's own plan's state decisions, with ``history_start`` added."""
    history_kept_from: str | None = None
    """The day loaded history begins, when ``start_date`` is later (the log says so once)."""

    @property
    def last_sync(self) -> int | None:
        """Index of the last window that moves the bookmark (None: there is none)."""
        indexes = [i for i, w in enumerate(self.windows) if w.purpose == SYNC]
        return indexes[-1] if indexes else None

    def record(self, state: dict[str, Any]) -> None:
        """Write what planning decided into the stream's ``state`` (the sync does, once)."""
        self.decided.record(state)


def plan_stream(
    stream: type[Plannable], state: Mapping[str, Any], settings: Settings, today: dt.date
) -> StreamPlan:
    """The next sync's windows of ``stream`` from its ``state`` as loaded; writes nothing."""
    own = stream.plan_windows(state, settings, today)
    windows = [PlannedWindow(w, kind) for w, kind in own.windows]
    decided_state = dict(own.state)
    kept_from = None
    kind = stream.history_export_type
    if state.get("bookmark") is None:
        # Nothing loaded yet: history is (re)built from today's start_date.
        decided_state["history_start"] = settings.start_date.isoformat()
    else:
        began = state_date(state.get("history_start"))
        if began is None:  # state from before the key: start_date is taken as where it began
            decided_state["history_start"] = settings.start_date.isoformat()
        elif settings.start_date < began:
            gap = snapshot_windows_back(settings.start_date, began - ONE_DAY)
            windows += [PlannedWindow(w, kind, BACKFILL) for w in gap]
        elif settings.start_date > began:
            kept_from = began.isoformat()
    windows += resync_windows(stream.name, kind, state, settings)
    decided = WindowPlan(own.windows, decided_state, own.drop)
    return StreamPlan(stream.name, with_kept_jobs(windows, state), decided, kept_from)


def resync_windows(
    stream: str, kind: str | None, state: Mapping[str, Any], settings: Settings
) -> list[PlannedWindow]:
    """The ``resync`` setting's windows for ``stream``: none once its range is done.

    An interrupted re-sync goes on the day after the last window it finished
    (``resync_progress``): the remaining windows are those the first run had planned.
    """
    resync = settings.resync
    if resync is None or not resync.covers(stream) or resync.key in resync_done(state):
        return []
    start = resync.start
    progress = state.get("resync_progress")
    if isinstance(progress, Mapping) and progress.get("range") == resync.key:
        through = state_date(progress.get("through"))
        start = max(start, through + ONE_DAY) if through else start
    return [
        PlannedWindow(w, kind, RESYNC, resync_range=resync.key)
        for w in snapshot_windows(start, resync.end)
    ]


def with_kept_jobs(windows: list[PlannedWindow], state: Mapping[str, Any]) -> list[PlannedWindow]:
    """Each window with the job kept in state under its key, when of its export type."""
    kept_jobs = state.get("jobs") or {}
    planned = []
    for window in windows:
        kept = kept_jobs.get(window.state_key) or {}
        same_kind = kept.get("export_type") == window.export_type
        resume = kept.get("job_id") if same_kind else None
        planned.append(
            PlannedWindow(
                window.window, window.export_type, window.purpose, resume, window.resync_range
            )
        )
    return planned


def resync_done(state: Mapping[str, Any]) -> list[str]:
    """The re-sync ranges the stream has finished, oldest first."""
    done = state.get("resync_done")
    return [str(key) for key in done] if isinstance(done, list) else []


def extra_window_done(state: dict[str, Any], planned: PlannedWindow) -> None:
    """Record a finished backfill or re-sync window; the bookmark stays where it is.

    Backfill windows run newest first, so ``history_start`` moves back window by window
    and an interrupted backfill goes on where it stopped.
    """
    if planned.purpose == BACKFILL:
        state["history_start"] = planned.window.start.isoformat()
        return
    key = planned.resync_range or ""
    if planned.window.end.isoformat() == key.partition("..")[2]:
        done = [k for k in resync_done(state) if k != key] + [key]
        state["resync_done"] = done[-RESYNC_DONE_KEPT:]
        state.pop("resync_progress", None)
    else:
        state["resync_progress"] = {"range": key, "through": planned.window.end.isoformat()}
