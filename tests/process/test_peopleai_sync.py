"""The tap as a process against the local People.ai upstream: records, state, tokens."""

from __future__ import annotations

import datetime as dt

from activities_upstream import LocalUpstream
from tests.kit.must_run import require_native
from tests.kit.tap_process import assert_unchanged, run_tap, select_only
from tests.kit.upstream import END, START, fast_upstream_config, peopleai_config

TYPES = {"peopleai_email": "email", "peopleai_meeting": "meeting", "peopleai_call": "call"}


def expected(up, kind, start, end, by):
    return up.peopleai.records(activity_type=kind, start=start, end=end, by=by)


def check_records(run, up, start, end, by):
    for stream, kind in TYPES.items():
        want = {r["uid"]: r for r in expected(up, kind, start, end, by)}
        got = run.records.get(stream, [])
        uids = [r["uid"] for r in got]
        assert len(uids) == len(set(uids)), f"{stream}: a record arrived twice"
        assert set(uids) == set(want), f"{stream}: records missing or foreign"
        for record in got:
            assert_unchanged(record, want[record["uid"]])
            assert record["type"] == kind


def test_full_history_then_delta_from_state(upstream, tmp_path):
    first = run_tap(peopleai_config(upstream), tmp_path / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    check_records(first, upstream, START, END, "activity")
    assert sum(len(v) for v in first.records.values()) > 100
    snapshot_jobs = upstream.peopleai.jobs()
    assert {j["export_type"] for j in snapshot_jobs} == {"snapshot"}
    for stream in TYPES:
        bookmark = first.bookmarks(stream)
        assert bookmark["mode"] == "delta"
        assert dt.date.fromisoformat(bookmark["bookmark"]) <= END
        assert "jobs" not in bookmark

    # A second run, a month later, from the emitted state: delta windows only.
    later = END + dt.timedelta(days=30)
    second = run_tap(
        peopleai_config(upstream, end_date=later.isoformat()),
        tmp_path / "second",
        state=first.state,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    new_jobs = upstream.peopleai.jobs()[len(snapshot_jobs) :]
    assert new_jobs, "the second run created no job"
    assert {j["export_type"] for j in new_jobs} == {"delta"}
    for job in new_jobs:
        days = (
            dt.date.fromisoformat(job["end_date"]) - dt.date.fromisoformat(job["start_date"])
        ).days
        assert days + 1 <= 14
    bookmark_day = dt.date.fromisoformat(first.bookmarks("peopleai_email")["bookmark"])
    check_records(second, upstream, bookmark_day, later, "processed")
    assert second.bookmarks("peopleai_email")["bookmark"] == later.isoformat()


def test_state_follows_each_window_and_never_precedes_its_records(upstream, tmp_path):
    config = peopleai_config(upstream, start_date="2022-01-01")  # 3 snapshot windows
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    bookmarks = [
        s["bookmarks"]["peopleai_email"].get("bookmark")
        for s in run.states
        if "peopleai_email" in s.get("bookmarks", {})
    ]
    moved = [b for i, b in enumerate(bookmarks) if b and (i == 0 or b != bookmarks[i - 1])]
    assert moved[:2] == ["2022-12-31", "2023-12-31"]
    # Every STATE that moves the bookmark to B comes after every record up to B.
    emitted: set[str] = set()
    last = None
    checked = 0
    for message in run.messages:
        if message["type"] == "RECORD" and message["stream"] == "peopleai_email":
            emitted.add(message["record"]["uid"])
        elif message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get("peopleai_email", {})
            day = bookmark.get("bookmark")
            if day and day != last:
                want = expected(
                    upstream, "email", dt.date(2022, 1, 1), dt.date.fromisoformat(day), "activity"
                )
                assert {r["uid"] for r in want} <= emitted, f"STATE {day} before its records"
                checked += 1
            last = day or last
    assert checked >= 3


def test_token_expiring_mid_sync_is_renewed(tmp_path):
    config = fast_upstream_config(token_ttl_seconds=0.3, run_seconds=0.4)
    with LocalUpstream(config) as up:
        run = run_tap(peopleai_config(up, start_date="2023-01-01"), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        check_records(run, up, dt.date(2023, 1, 1), END, "activity")
        token_calls = [r for r in up.requests_log if r[2].endswith("/auth/v1/tokens")]
        assert len(token_calls) >= 2


def test_parallel_download_yields_the_same_records_as_sequential(upstream, tmp_path):
    sequential = run_tap(peopleai_config(upstream, download_workers=1), tmp_path / "one")
    parallel = run_tap(peopleai_config(upstream, download_workers=6), tmp_path / "six")
    assert sequential.returncode == parallel.returncode == 0
    for stream in TYPES:
        assert [r["uid"] for r in parallel.records[stream]] == [
            r["uid"] for r in sequential.records[stream]
        ]
        assert parallel.records[stream] == sequential.records[stream]


def test_failed_job_ends_with_one_line_naming_job_and_window(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        up.faults.fail_jobs(10)
        run = run_tap(peopleai_config(up), tmp_path)
        failed = {j["job_id"] for j in up.peopleai.jobs() if j["state"] == "Failed"}
        assert not up.faults.unfired()
    assert run.returncode != 0
    errors = run.cli_errors
    assert len(errors) == 1, run.stderr[-3000:]
    assert "2024-01-01..2024-02-20" in errors[0]
    assert any(job_id in errors[0] for job_id in failed), (errors[0], failed)
    assert "Traceback" not in run.stderr


def test_catalog_selection_and_deselected_fields_are_honoured(upstream, tmp_path):
    from tap_activities.tap import TapActivities

    config = peopleai_config(upstream)
    catalog = select_only(TapActivities(config=config).catalog_dict, "peopleai_call", "summary")
    run = run_tap(config, tmp_path, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.records) == {"peopleai_call"}
    assert all("summary" not in r for r in run.records["peopleai_call"])
    want = expected(upstream, "call", START, END, "activity")
    assert sorted(r["uid"] for r in run.records["peopleai_call"]) == sorted(r["uid"] for r in want)
    assert {j["activity_type"] for j in upstream.peopleai.jobs()} == {"call"}


def test_the_native_and_the_python_pass_emit_the_same_sync(upstream, tmp_path):
    require_native()
    runs = [
        run_tap(peopleai_config(upstream), tmp_path / mode, env={"TAP_ACTIVITIES_NATIVE": mode})
        for mode in ("0", "1")
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        check_records(run, upstream, START, END, "activity")
    python, native = runs
    assert "People.ai fragment pass: pure Python" in python.stderr
    assert "People.ai fragment pass: native (simdjson" in native.stderr
    assert native.records == python.records
    assert native.state == python.state  # the final bookmarks (job ids differ run to run)
