import copy
import datetime as dt
import itertools

import pytest

from tap_activities.export.windows import Window, fixed_windows, snapshot_windows
from tap_activities.settings import parse_settings
from tap_activities.sources.chartmogul.streams import CHARTMOGUL_STREAMS
from tap_activities.sources.peopleai.streams import PeopleAIEmailStream, plan_peopleai_windows
from tap_activities.sources.registry import SOURCES

(ChartMogulNewBizStream,) = (s for s in CHARTMOGUL_STREAMS if s.activity_type == "new_biz")

D = dt.date


def test_snapshot_windows_never_exceed_one_year_and_cover_the_range():
    windows = list(snapshot_windows(D(2023, 3, 15), D(2026, 1, 2)))
    assert windows[0] == Window(D(2023, 3, 15), D(2024, 3, 14))
    assert windows[-1].end == D(2026, 1, 2)
    for before, after in itertools.pairwise(windows):
        assert after.start == before.end + dt.timedelta(days=1)
    assert all(w.end < D(w.start.year + 1, w.start.month, w.start.day) for w in windows)


def test_snapshot_window_from_leap_day():
    (first, *_rest) = snapshot_windows(D(2024, 2, 29), D(2026, 1, 1))
    assert first == Window(D(2024, 2, 29), D(2025, 2, 27))


def test_delta_windows_are_at_most_14_days_inclusive():
    windows = list(fixed_windows(D(2024, 1, 1), D(2024, 2, 1), 14))
    assert [w.days for w in windows] == [14, 14, 4]
    assert windows[0] == Window(D(2024, 1, 1), D(2024, 1, 14))


def test_single_day_range():
    assert list(fixed_windows(D(2024, 1, 1), D(2024, 1, 1), 14)) == [
        Window(D(2024, 1, 1), D(2024, 1, 1))
    ]


def test_peopleai_plan_snapshot_then_delta_from_bookmark_day():
    history = plan_peopleai_windows(D(2022, 1, 1), D(2024, 6, 30), None)
    assert {kind for _, kind in history} == {"snapshot"}
    assert len(history) == 3
    delta = plan_peopleai_windows(D(2022, 1, 1), D(2024, 7, 20), D(2024, 6, 30))
    assert {kind for _, kind in delta} == {"delta"}
    assert delta[0][0].start == D(2024, 6, 30)  # the bookmark day is read again
    assert all(w.days <= 14 for w, _ in delta)


def test_window_key_round_trips_as_text():
    # State keeps in-flight jobs under the window's key; a later run matches them to the
    # windows it plans, so the text must give back exactly its window, and no other.
    assert Window(D(2024, 1, 1), D(2024, 1, 14)).key == "2024-01-01..2024-01-14"
    windows = [w for w, _ in plan_peopleai_windows(D(2019, 2, 28), D(2024, 3, 1), None)]
    windows += list(fixed_windows(D(2024, 2, 20), D(2024, 3, 10), 14))
    for window in windows:
        start, end = window.key.split("..")
        assert Window(D.fromisoformat(start), D.fromisoformat(end)) == window
    assert len({w.key for w in windows}) == len(set(windows))


def test_zero_day_windows_are_refused():
    with pytest.raises(ValueError, match="at least one day"):
        list(fixed_windows(D(2024, 1, 1), D(2024, 1, 2), 0))


def planning_settings(**source_settings):
    config = {
        "start_date": "2024-01-01",
        "end_date": "2024-03-31",
        "peopleai_client_id": "id",
        "peopleai_client_secret": "secret",
        "chartmogul_api_key": "key",
        **source_settings,
    }
    return parse_settings(config, SOURCES)


TODAY = D(2024, 4, 2)  # the day the plan is made: after end_date


def planned(stream, state):
    """The plan, and the state as planning left it (it must leave it as it was)."""
    before = copy.deepcopy(state)
    plan = stream.plan_windows(state, planning_settings(), TODAY)
    assert state == before, "planning wrote into the state"
    return plan


def test_a_first_people_ai_plan_builds_history_from_today_on_and_writes_no_state():
    plan = planned(PeopleAIEmailStream, {})
    assert plan.windows == [(Window(D(2024, 1, 1), D(2024, 3, 31)), "snapshot")]
    state: dict = {}
    plan.record(state)
    assert list(state.items()) == [("delta_start", "2024-04-02"), ("mode", "snapshot")]


def test_history_stopped_part_way_keeps_the_day_it_began():
    state = {"bookmark": "2024-01-31", "mode": "snapshot", "delta_start": "2024-03-01"}
    plan = planned(PeopleAIEmailStream, state)
    assert plan.windows == [(Window(D(2024, 2, 1), D(2024, 3, 31)), "snapshot")]
    plan.record(state)
    assert state == {"bookmark": "2024-01-31", "mode": "snapshot", "delta_start": "2024-03-01"}


def test_history_that_already_reaches_the_end_switches_to_deltas():
    state = {"bookmark": "2024-03-31", "delta_start": "2024-03-01", "jobs": {}}
    plan = planned(PeopleAIEmailStream, state)
    assert plan.windows == []
    plan.record(state)
    assert list(state.items()) == [("bookmark", "2024-03-31"), ("jobs", {}), ("mode", "delta")]


def test_deltas_run_from_the_bookmark_day_and_change_no_state():
    plan = planned(PeopleAIEmailStream, {"bookmark": "2024-03-20", "mode": "delta"})
    assert plan.windows == [(Window(D(2024, 3, 20), D(2024, 3, 31)), "delta")]
    assert (dict(plan.state), plan.drop) == ({}, ())


def test_chartmogul_plans_from_the_bookmark_less_the_look_back():
    plan = planned(ChartMogulNewBizStream, {"bookmark": "2024-03-20"})
    assert plan.windows == [(Window(D(2024, 3, 13), D(2024, 3, 31)), None)]
    assert (dict(plan.state), plan.drop) == ({}, ())


def test_chartmogul_goes_on_after_the_bookmark_when_the_next_window_kept_its_job():
    state = {
        "bookmark": "2024-01-31",
        "jobs": {"2024-02-01..2024-03-31": {"job_id": "e1", "export_type": None}},
    }
    plan = planned(ChartMogulNewBizStream, state)
    assert plan.windows == [(Window(D(2024, 2, 1), D(2024, 3, 31)), None)]
