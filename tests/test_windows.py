import datetime as dt
import itertools

import pytest

from tap_activities.export.windows import Window, fixed_windows, snapshot_windows
from tap_activities.sources.peopleai.streams import plan_peopleai_windows

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
