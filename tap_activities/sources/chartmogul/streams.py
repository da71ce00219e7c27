"""ChartMogul streams, one per activity type: windows of at most a year, with a look-back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_activities.export.windows import Window, snapshot_windows
from tap_activities.singer.planning import WindowPlan, state_date
from tap_activities.singer.streams import ExportStream

if TYPE_CHECKING:
    from tap_activities.settings import Settings
    from tap_activities.sources.chartmogul.settings import ChartMogulSettings


def plan_chartmogul_windows(
    start: dt.date, end: dt.date, bookmark: dt.date | None, lookback_days: int
) -> list[Window]:
    """Windows of at most a year; an incremental run re-exports ``lookback_days`` first.

    ChartMogul recomputes activities after the fact, so a run starts ``lookback_days``
    before the bookmark (never before ``start_date``); targets upsert on ``uuid``.
    """
    if bookmark is not None:
        start = max(start, bookmark - dt.timedelta(days=lookback_days))
    return list(snapshot_windows(start, end))


class ChartMogulStream(ExportStream):
    """ChartMogul activities of one type: windows of at most a year, with a look-back."""

    source_name = "chartmogul"
    primary_keys: ClassVar[list[str]] = ["uuid"]

    @classmethod
    def plan_windows(
        cls, state: Mapping[str, Any], settings: Settings, today: dt.date
    ) -> WindowPlan:
        """From ``start_date``, or from the bookmark minus the look-back, to ``end_date``.

        A run interrupted part-way kept the job of the window after its bookmark: the
        next run goes on from that window (its days before were exported by the run that
        stopped), so the kept jobs match their windows and are resumed, not made again.
        """
        own: ChartMogulSettings = settings.sources[cls.source_name]
        bookmark = state_date(state.get("bookmark"))
        if bookmark is not None and _interrupted_after(bookmark, state):
            start = max(settings.start_date, bookmark + dt.timedelta(days=1))
            return WindowPlan([(w, None) for w in snapshot_windows(start, settings.end_date)])
        windows = plan_chartmogul_windows(
            settings.start_date, settings.end_date, bookmark, own.lookback_days
        )
        return WindowPlan([(window, None) for window in windows])


def _interrupted_after(bookmark: dt.date, state: Mapping[str, Any]) -> bool:
    """Whether state keeps a job for the window that starts the day after ``bookmark``."""
    after = (bookmark + dt.timedelta(days=1)).isoformat()
    jobs = state.get("jobs")
    return isinstance(jobs, Mapping) and any(str(key).startswith(f"{after}..") for key in jobs)


def _chartmogul_stream(activity_type: str) -> type[ChartMogulStream]:
    """Declare the stream class of one ChartMogul activity type."""
    return type(
        f"ChartMogul{activity_type.title().replace('_', '')}Stream",
        (ChartMogulStream,),
        {
            "name": f"chartmogul_{activity_type}",
            "activity_type": activity_type,
            "__doc__": f"ChartMogul {activity_type} activities.",
        },
    )


CHARTMOGUL_STREAMS: tuple[type[ChartMogulStream], ...] = tuple(
    _chartmogul_stream(kind)
    for kind in ("new_biz", "expansion", "contraction", "churn", "reactivation")
)
