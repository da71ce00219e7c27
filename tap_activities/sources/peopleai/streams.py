"""People.ai streams, one per activity type: snapshot history, then 14-day deltas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tap_activities.export.windows import DELTA_MAX_DAYS, Window, fixed_windows, snapshot_windows
from tap_activities.singer.planning import WindowPlan, state_date
from tap_activities.singer.streams import ExportStream

if TYPE_CHECKING:
    from tap_activities.settings import Settings


def plan_peopleai_windows(
    start: dt.date, end: dt.date, bookmark: dt.date | None
) -> list[tuple[Window, str]]:
    """Windows and export types for one stream.

    With no bookmark, history is built with snapshot exports (by activity date) in windows
    of at most a year. With one, delta exports (by processed date) of at most 14 days run
    from the bookmark day itself, so activities processed late on that day are not lost.
    """
    if bookmark is None:
        return [(w, "snapshot") for w in snapshot_windows(start, end)]
    return [(w, "delta") for w in fixed_windows(max(bookmark, start), end, DELTA_MAX_DAYS)]


class PeopleAIStream(ExportStream):
    """People.ai activities of one type: snapshot history, then 14-day deltas."""

    source_name = "peopleai"
    history_export_type = "snapshot"  # by activity date: backfills and re-syncs

    @classmethod
    def plan_windows(
        cls, state: Mapping[str, Any], settings: Settings, today: dt.date
    ) -> WindowPlan:
        """Snapshot windows until history is complete, then delta windows from the bookmark.

        While history is built, the state says so (``mode``) and keeps the day it began
        (``delta_start``, ``today`` on the first run): deltas follow from that day, so the
        activities processed while history was exported are not lost.
        """
        bookmark = state_date(state.get("bookmark"))
        if state.get("mode") == "delta" and bookmark is not None:
            return WindowPlan(
                plan_peopleai_windows(settings.start_date, settings.end_date, bookmark)
            )
        # Building history (first run, or a run that stopped part-way through it).
        # A finished snapshot window holds every activity of its days (late ones come with
        # the deltas from delta_start), so history goes on the day after the bookmark:
        # the windows then match those of the interrupted run and its kept jobs resume.
        start = (
            max(bookmark + dt.timedelta(days=1), settings.start_date)
            if bookmark
            else settings.start_date
        )
        windows = plan_peopleai_windows(start, settings.end_date, None)
        if not windows and bookmark is not None:  # history already reaches end_date
            return WindowPlan(windows, {"mode": "delta"}, drop=("delta_start",))
        began = {} if "delta_start" in state else {"delta_start": today.isoformat()}
        return WindowPlan(windows, {**began, "mode": "snapshot"})

    def window_done(self, state: dict, window: Window, export_type: str | None, last: bool) -> None:
        """After the last snapshot window, switch to deltas from the day history began."""
        state["bookmark"] = window.end.isoformat()
        if export_type == "snapshot" and last:
            delta_start = state_date(state.pop("delta_start", None)) or window.end
            state["bookmark"] = min(delta_start, window.end).isoformat()
            state["mode"] = "delta"


class PeopleAIEmailStream(PeopleAIStream):
    """Emails captured by People.ai."""

    name = "peopleai_email"
    activity_type = "email"


class PeopleAIMeetingStream(PeopleAIStream):
    """Meetings captured by People.ai."""

    name = "peopleai_meeting"
    activity_type = "meeting"


class PeopleAICallStream(PeopleAIStream):
    """Calls captured by People.ai."""

    name = "peopleai_call"
    activity_type = "call"


PEOPLEAI_STREAMS: tuple[type[PeopleAIStream], ...] = (
    PeopleAIEmailStream,
    PeopleAIMeetingStream,
    PeopleAICallStream,
)
