"""The one planning decision the sync and ``--plan`` share: windows, purposes, kept jobs."""

import copy
import datetime as dt
import itertools

import pytest

from tap_activities.errors import ConfigError
from tap_activities.export.estimate import DOWNLOADS, PlannedJob, estimate, timing_of
from tap_activities.export.job_limits import CHARTMOGUL_LIMITS, PEOPLEAI_LIMITS
from tap_activities.export.windows import ONE_DAY, Window, add_years, snapshot_windows_back
from tap_activities.settings import parse_settings
from tap_activities.singer.planning import (
    BACKFILL,
    RESYNC,
    RESYNC_DONE_KEPT,
    SYNC,
    extra_window_done,
    plan_stream,
)
from tap_activities.sources.chartmogul.streams import CHARTMOGUL_STREAMS
from tap_activities.sources.peopleai.streams import PeopleAICallStream
from tap_activities.sources.registry import SOURCES

D = dt.date
TODAY = D(2024, 4, 2)
(ChurnStream,) = (s for s in CHARTMOGUL_STREAMS if s.activity_type == "churn")
LIMITS = {"peopleai": PEOPLEAI_LIMITS, "chartmogul": CHARTMOGUL_LIMITS}


def settings(**config):
    return parse_settings(
        {
            "start_date": "2024-01-01",
            "end_date": "2024-03-31",
            "peopleai_client_id": "id",
            "peopleai_client_secret": "secret",
            "chartmogul_api_key": "key",
            **config,
        },
        SOURCES,
    )


def plan(stream, state, **config):
    """The plan, checking that planning leaves the state as it was."""
    before = copy.deepcopy(state)
    result = plan_stream(stream, state, settings(**config), TODAY)
    assert state == before, "planning wrote into the state"
    return result


def shown(result):
    return [(w.window.key, w.export_type, w.purpose, w.job) for w in result.windows]


def test_a_first_run_builds_history_from_start_date_and_remembers_where_it_began():
    result = plan(PeopleAICallStream, {})
    assert shown(result) == [("2024-01-01..2024-03-31", "snapshot", SYNC, "new")]
    state: dict = {}
    result.record(state)
    assert state["history_start"] == "2024-01-01"
    assert state["mode"] == "snapshot"


def test_a_job_kept_in_state_is_resumed_only_for_its_window_and_export_type():
    state = {
        "bookmark": "2024-03-01",
        "mode": "delta",
        "history_start": "2024-01-01",
        "jobs": {
            "2024-03-01..2024-03-14": {"job_id": "j1", "export_type": "delta"},
            "2024-03-15..2024-03-28": {"job_id": "j2", "export_type": "snapshot"},
        },
    }
    result = plan(PeopleAICallStream, state)
    assert shown(result) == [
        ("2024-03-01..2024-03-14", "delta", SYNC, "resume"),
        ("2024-03-15..2024-03-28", "delta", SYNC, "new"),
        ("2024-03-29..2024-03-31", "delta", SYNC, "new"),
    ]
    assert result.windows[0].resume_job_id == "j1"


def test_old_state_without_history_start_takes_start_date_and_backfills_nothing():
    state = {"bookmark": "2024-03-20"}
    result = plan(ChurnStream, state, start_date="2023-01-01")
    assert [w.purpose for w in result.windows] == [SYNC]
    result.record(state)
    assert state["history_start"] == "2023-01-01"


def test_an_earlier_start_date_backfills_exactly_the_gap_newest_first():
    state = {"bookmark": "2024-03-20", "mode": "delta", "history_start": "2024-01-01"}
    result = plan(PeopleAICallStream, state, start_date="2022-06-15")
    backfill = [w for w in result.windows if w.purpose == BACKFILL]
    assert [w.window.key for w in backfill] == ["2023-01-01..2023-12-31", "2022-06-15..2022-12-31"]
    assert {w.export_type for w in backfill} == {"snapshot"}
    assert result.windows[0].purpose == SYNC
    assert result.last_sync == 0
    # each backfill window done moves history_start back: a stopped backfill goes on
    extra_window_done(state, backfill[0])
    assert state["history_start"] == "2023-01-01"
    again = plan(PeopleAICallStream, state, start_date="2022-06-15")
    assert [w.window.key for w in again.windows if w.purpose == BACKFILL] == [
        "2022-06-15..2022-12-31"
    ]
    assert state["bookmark"] == "2024-03-20"


def test_a_later_start_date_changes_nothing_loaded_and_says_so():
    state = {"bookmark": "2024-03-20", "history_start": "2023-06-01"}
    result = plan(ChurnStream, state)
    assert [w.purpose for w in result.windows] == [SYNC]
    assert result.history_kept_from == "2023-06-01"
    result.record(state)
    assert state["history_start"] == "2023-06-01"


def test_before_anything_is_loaded_a_new_start_date_is_simply_where_history_begins():
    state = {"history_start": "2024-02-01", "jobs": {}}
    result = plan(ChurnStream, state)
    assert [w.purpose for w in result.windows] == [SYNC]
    assert result.history_kept_from is None


RESYNC_JAN = {"streams": ["peopleai_call"], "start_date": "2024-01-01", "end_date": "2024-01-31"}


def test_resync_adds_snapshot_windows_and_never_moves_the_bookmark():
    state = {"bookmark": "2024-03-20", "mode": "delta", "history_start": "2024-01-01"}
    result = plan(PeopleAICallStream, state, resync=RESYNC_JAN)
    assert shown(result)[-1] == ("2024-01-01..2024-01-31", "snapshot", RESYNC, "new")
    assert result.windows[-1].state_key == "resync:2024-01-01..2024-01-31"
    extra_window_done(state, result.windows[-1])
    assert state["resync_done"] == ["2024-01-01..2024-01-31"]
    assert state["bookmark"] == "2024-03-20"
    assert [w.purpose for w in plan(PeopleAICallStream, state, resync=RESYNC_JAN).windows] == [SYNC]


def test_resync_concerns_only_the_streams_it_names_or_all_with_a_star():
    assert [w.purpose for w in plan(ChurnStream, {}, resync=RESYNC_JAN).windows] == [SYNC]
    star = {**RESYNC_JAN, "streams": ["*"]}
    assert [w.purpose for w in plan(ChurnStream, {}, resync=star).windows] == [SYNC, RESYNC]


def test_an_interrupted_resync_goes_on_with_the_windows_it_had_planned(tmp_path):
    long = {"streams": ["*"], "start_date": "2022-03-01", "end_date": "2024-03-31"}
    first = plan(ChurnStream, {"bookmark": "2024-03-31"}, start_date="2022-01-01", resync=long)
    windows = [w for w in first.windows if w.purpose == RESYNC]
    assert [w.window.key for w in windows] == [
        "2022-03-01..2023-02-28",
        "2023-03-01..2024-02-29",
        "2024-03-01..2024-03-31",
    ]
    state = {
        "bookmark": "2024-03-31",
        "jobs": {windows[1].state_key: {"job_id": "e2", "export_type": None}},
    }
    extra_window_done(state, windows[0])
    assert state["resync_progress"] == {"range": "2022-03-01..2024-03-31", "through": "2023-02-28"}
    again = plan(ChurnStream, state, start_date="2022-01-01", resync=long)
    rest = [w for w in again.windows if w.purpose == RESYNC]
    assert [(w.window.key, w.job) for w in rest] == [
        ("2023-03-01..2024-02-29", "resume"),
        ("2024-03-01..2024-03-31", "new"),
    ]


def test_resync_done_is_bounded():
    state: dict = {}
    for month in range(1, RESYNC_DONE_KEPT + 3):
        key = f"2023-{month:02d}-01..2023-{month:02d}-02"
        window = Window(D(2023, month, 1), D(2023, month, 2))
        result = plan_stream(
            ChurnStream,
            state,
            settings(
                start_date="2023-01-01",
                resync={"streams": ["*"], "start_date": key[:10], "end_date": key[12:]},
            ),
            TODAY,
        )
        assert result.windows[-1].window == window
        extra_window_done(state, result.windows[-1])
    assert len(state["resync_done"]) == RESYNC_DONE_KEPT
    assert state["resync_done"][-1] == "2023-12-01..2023-12-02"


@pytest.mark.parametrize(
    ("resync", "message"),
    [
        ({"streams": ["*"], "start_date": "2023-12-01", "end_date": "2024-01-31"}, "outside"),
        ({"streams": ["*"], "start_date": "2024-02-01", "end_date": "2024-01-31"}, "before"),
        ({"streams": [], "start_date": "2024-01-01", "end_date": "2024-01-31"}, "list of"),
        ({"streams": ["*"], "start_date": "2024-01-01"}, "resync.end_date' is required"),
        ("not json", "must be an object"),
    ],
)
def test_a_bad_resync_is_one_line_naming_the_setting(resync, message):
    with pytest.raises(ConfigError, match=message) as raised:
        settings(resync=resync)
    assert "'resync" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_resync_given_as_json_text_as_an_environment_variable_may_be():
    parsed = settings(
        resync='{"streams": ["*"], "start_date": "2024-01-05", "end_date": "2024-01-09"}'
    )
    assert parsed.resync is not None
    assert parsed.resync.key == "2024-01-05..2024-01-09"


def test_backward_windows_stay_within_a_year_and_tile_the_range():
    for end in (D(2024, 2, 28), D(2024, 2, 29), D(2025, 3, 1), D(2023, 12, 31)):
        windows = list(snapshot_windows_back(D(2019, 5, 17), end))
        assert windows[0].end == end
        assert windows[-1].start == D(2019, 5, 17)
        for newer, older in itertools.pairwise(windows):
            assert older.end == newer.start - ONE_DAY
        assert all(add_years(w.start, 1) - ONE_DAY >= w.end for w in windows)


def history(*entries):
    return [
        {
            "window": "x",
            "export_type": kind,
            "days": days,
            "job_seconds": job,
            "download_seconds": down,
            "bytes": 1,
            "records": 1,
        }
        for kind, days, job, down in entries
    ]


def test_no_history_gives_no_seconds_only_the_rounds_the_limits_allow():
    jobs = [PlannedJob(f"peopleai_{t}", "peopleai", "snapshot", 365) for t in ("a", "b", "c")]
    result = estimate(jobs, {}, LIMITS)
    assert result.seconds is None
    assert result.rounds == {"peopleai": 2}
    assert result.decided_by is None


def test_with_history_two_running_jobs_decide_when_jobs_are_long():
    jobs = [PlannedJob(s, "peopleai", "delta", 14) for s in ("a", "b", "c")]
    timings = {"a": timing_of(history(("delta", 14, 100.0, 1.4)))}
    result = estimate(jobs, timings, LIMITS)
    # jobs a, b at once (done at 100), c after them (done at 200); 1.4 s of download each
    assert result.seconds == pytest.approx(201.4)
    assert result.decided_by == "peopleai"
    assert result.per_stream == pytest.approx({"a": 101.4, "b": 102.8, "c": 201.4})


def test_with_history_downloads_decide_when_jobs_are_short():
    jobs = [PlannedJob("a", "chartmogul", None, 100), PlannedJob("b", "chartmogul", None, 100)]
    timings = {"a": timing_of(history((None, 10, 1.0, 50.0))), "b": None}
    result = estimate(jobs, timings, LIMITS)
    assert result.seconds == pytest.approx(1 + 500 + 500)
    assert result.decided_by == DOWNLOADS


def test_history_that_is_not_usable_is_ignored():
    assert timing_of(None) is None
    assert timing_of([{"days": 0, "job_seconds": 1, "download_seconds": 1}, "x"]) is None


def test_the_plan_document_counts_and_renders_what_planning_decided():
    from tap_activities.singer.plan_report import plan_document, plan_text

    state = {
        "bookmark": "2024-03-01",
        "mode": "delta",
        "history_start": "2024-01-01",
        "jobs": {"2024-03-01..2024-03-14": {"job_id": "j1", "export_type": "delta"}},
        "history": history(("delta", 14, 30.0, 2.8)),
    }
    result = plan(PeopleAICallStream, state, resync=RESYNC_JAN)
    document = plan_document([("peopleai", result, state)], LIMITS, "2024-01-01..2024-01-31")
    (stream,) = document["streams"]
    assert (stream["jobs_to_create"], stream["jobs_to_resume"]) == (3, 1)
    assert document["totals"]["windows"] == 4
    assert document["limits"]["peopleai"]["rounds"] == 2
    assert document["totals"]["estimate_basis"] == "history"
    text = plan_text(document)
    assert "  2024-03-01..2024-03-14  delta     resume j1" in text
    assert "  2024-01-01..2024-01-31  snapshot  new  (resync)" in text
    assert "Totals: 4 window(s) in 1 stream(s); 3 job(s) to create, 1 to resume" in text
    assert "Estimate: about" in text
