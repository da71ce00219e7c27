"""A re-sync of a range, and an earlier start_date, as the upstream sees them: the jobs made.

A re-sync exports its range once (People.ai: snapshot, by activity date), leaves the
bookmark where it was, is not exported again the next night, and resumes its kept job
after a SIGKILL. An earlier ``start_date`` exports exactly the missing days; a later one
changes nothing and says so.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from activities_upstream import LocalUpstream
from tests.kit.faultkit import CHARTMOGUL_STREAMS, PEOPLEAI_STREAMS, chartmogul_ids, peopleai_ids
from tests.kit.tap_process import (
    batch_config,
    batch_records,
    catalog_of,
    killed_run,
    run_tap,
)
from tests.kit.upstream import END, START, chartmogul_config, fast_upstream_config, peopleai_config
from tests.process.test_plan import created, planned, run_plan

ALL_STREAMS = set(PEOPLEAI_STREAMS) | set(CHARTMOGUL_STREAMS)
RANGE = (dt.date(2024, 1, 10), dt.date(2024, 1, 20))
RANGE_KEY = f"{RANGE[0]}..{RANGE[1]}"


def both_config(up, **overrides) -> dict:
    return {**peopleai_config(up), **chartmogul_config(up), **overrides}


def new_jobs(up, before: list) -> list[tuple[str, str, str | None]]:
    return sorted((Counter(created(up)) - Counter(before)).elements())


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_a_resync_exports_its_range_once_and_never_moves_the_bookmark(mode, tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = both_config(up)
        if mode == "batch":
            config["batch_config"] = batch_config(tmp_path / "batches")
        first = run_tap(config, tmp_path / "first")
        assert first.returncode == 0, first.stderr[-3000:]
        resync = {
            "streams": ["peopleai_call", "chartmogul_churn"],
            "start_date": RANGE[0].isoformat(),
            "end_date": RANGE[1].isoformat(),
        }
        config = {**config, "resync": resync}
        before = created(up)
        plan = run_plan(config, tmp_path / "plan", state=first.state)
        second = run_tap(config, tmp_path / "second", state=first.state)
        assert second.returncode == 0, second.stderr[-3000:]

        made = new_jobs(up, before)
        assert made == planned(plan, "new")
        resynced = [job for job in made if job[1] == RANGE_KEY]
        assert resynced == [
            ("chartmogul_churn", RANGE_KEY, None),
            ("peopleai_call", RANGE_KEY, "snapshot"),
        ]
        # the range's records went out again: People.ai's by activity date
        records = batch_records(second) if mode == "batch" else second.records
        calls = {r["uid"] for r in records["peopleai_call"]}
        assert peopleai_ids(up, *RANGE)["peopleai_call"] <= calls
        churn = {r["uuid"] for r in records["chartmogul_churn"]}
        assert chartmogul_ids(up, *RANGE)["chartmogul_churn"] <= churn
        for stream in ALL_STREAMS:
            assert second.bookmarks(stream)["bookmark"] == END.isoformat(), stream
            assert second.bookmarks(stream).get("jobs") is None
        assert second.bookmarks("peopleai_call")["resync_done"] == [RANGE_KEY]
        for state in second.states:  # not even for a moment
            assert state["bookmarks"]["peopleai_call"]["bookmark"] == END.isoformat()

        # the next night, with the same setting: not again
        before = created(up)
        third = run_tap(config, tmp_path / "third", state=second.state)
        assert third.returncode == 0, third.stderr[-3000:]
        assert [job for job in new_jobs(up, before) if job[1] == RANGE_KEY] == []
        again = run_plan(config, tmp_path / "plan-again", state=second.state)
        assert [s["stream"] for s in again["streams"] if s["resync_done"]] == [
            "chartmogul_churn",
            "peopleai_call",
        ]


def test_an_interrupted_resync_resumes_its_kept_job(tmp_path):
    with LocalUpstream(fast_upstream_config(start=dt.date(2023, 10, 1))) as up:
        config = chartmogul_config(up, start_date="2023-01-01")
        catalog = catalog_of(config, "chartmogul_churn")
        first = run_tap(config, tmp_path / "first", catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        long_range = f"2023-01-01..{END}"
        config["resync"] = {"streams": ["*"], "start_date": "2023-01-01", "end_date": str(END)}
        # files: the look-back window's, the re-sync's first window's; hold its second
        hold = up.faults.hold("files.get", skip=2)
        states = killed_run(
            config,
            tmp_path / "second",
            tmp_path / "sink.jsonl",
            hold,
            state=first.state,
            catalog=catalog,
        )
        killed = states[-1]["bookmarks"]["chartmogul_churn"]
        assert killed["resync_progress"] == {"range": long_range, "through": "2023-12-31"}
        assert list(killed["jobs"]) == [f"resync:2024-01-01..{END}"]
        assert killed["bookmark"] == END.isoformat()

        before = created(up)
        plan = run_plan(config, tmp_path / "plan", state=states[-1], catalog=catalog)
        (stream,) = plan["streams"]
        assert [(w["purpose"], w["job"]) for w in stream["windows"]] == [
            ("sync", "new"),
            ("resync", "resume"),
        ]
        third = run_tap(config, tmp_path / "third", state=states[-1], catalog=catalog)
        assert third.returncode == 0, third.stderr[-3000:]
        assert new_jobs(up, before) == planned(plan, "new")
        assert [job for job in new_jobs(up, before) if job[1] == f"2024-01-01..{END}"] == []
        done = third.bookmarks("chartmogul_churn")
        assert done["resync_done"] == [long_range]
        assert "resync_progress" not in done
        assert done["bookmark"] == END.isoformat()
        got = {r["uuid"] for r in third.records["chartmogul_churn"]}
        assert chartmogul_ids(up, dt.date(2024, 1, 1), END)["chartmogul_churn"] <= got


def test_an_earlier_start_date_exports_exactly_the_missing_days(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        late = dt.date(2024, 1, 15)
        config = both_config(up, start_date=late.isoformat())
        first = run_tap(config, tmp_path / "first")
        assert first.returncode == 0, first.stderr[-3000:]
        before = created(up)

        config["start_date"] = START.isoformat()
        plan = run_plan(config, tmp_path / "plan", state=first.state)
        second = run_tap(config, tmp_path / "second", state=first.state)
        assert second.returncode == 0, second.stderr[-3000:]
        made = new_jobs(up, before)
        assert made == planned(plan, "new")
        gap = f"{START}..{late - dt.timedelta(days=1)}"
        backfill = [job for job in made if job[1] == gap]
        assert sorted(backfill) == sorted(
            [(s, gap, "snapshot") for s in PEOPLEAI_STREAMS]
            + [(s, gap, None) for s in CHARTMOGUL_STREAMS]
        )
        backfilled = [
            (s["stream"], f"{w['start']}..{w['end']}")
            for s in plan["streams"]
            for w in s["windows"]
            if w["purpose"] == "backfill"
        ]
        assert sorted(backfilled) == sorted((s, gap) for s in ALL_STREAMS)
        missing = peopleai_ids(up, START, late - dt.timedelta(days=1))
        for stream, ids in missing.items():
            assert ids <= {r["uid"] for r in second.records[stream]}
        for stream in ALL_STREAMS:
            assert second.bookmarks(stream)["bookmark"] == END.isoformat()
            assert second.bookmarks(stream)["history_start"] == START.isoformat()

        # the next run: nothing missing any more
        before = created(up)
        third = run_tap(config, tmp_path / "third", state=second.state)
        assert third.returncode == 0, third.stderr[-3000:]
        assert [job for job in new_jobs(up, before) if job[1] == gap] == []


def test_a_later_start_date_changes_nothing_and_says_so_once(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = chartmogul_config(up)
        first = run_tap(config, tmp_path / "first")
        assert first.returncode == 0, first.stderr[-3000:]
        before = created(up)
        config["start_date"] = "2024-02-01"
        second = run_tap(config, tmp_path / "second", state=first.state)
        assert second.returncode == 0, second.stderr[-3000:]
        said = [
            line for line in second.stderr.splitlines() if "is later than the first day" in line
        ]
        assert len(said) == 1, said
        assert "WARNING" in said[0]
        assert {job[1] for job in new_jobs(up, before)} == {f"2024-02-13..{END}"}
        for stream in CHARTMOGUL_STREAMS:
            assert second.bookmarks(stream)["history_start"] == START.isoformat()


@pytest.mark.parametrize(
    ("resync", "error"),
    [
        (
            {"streams": ["peopleai_calls"], "start_date": "2024-01-02", "end_date": "2024-01-09"},
            "Setting 'resync' names stream 'peopleai_calls', which is not one of the "
            "configured streams (peopleai_email, peopleai_meeting, peopleai_call).",
        ),
        (
            {"streams": ["*"], "start_date": "2023-12-01", "end_date": "2024-01-09"},
            "Setting 'resync' range 2023-12-01..2024-01-09 is outside the days to export "
            "('start_date'..'end_date': 2024-01-01..2024-02-20).",
        ),
        (
            {"streams": ["*"], "start_date": "2024-01-09", "end_date": "2024-01-02"},
            "Setting 'resync.end_date' (2024-01-02) is before 'resync.start_date' (2024-01-09).",
        ),
    ],
)
@pytest.mark.parametrize("plan", [False, True])
def test_a_bad_resync_is_one_line_before_any_job(resync, error, plan, tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        args = ("--plan",) if plan else ()
        run = run_tap(peopleai_config(up, resync=resync), tmp_path, args=args)
        assert run.returncode == 1
        assert run.cli_errors == [f"tap-activities: error: {error}"]
        assert run.messages == []
        assert up.requests_log == []
