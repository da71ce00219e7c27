"""``--plan`` is the truth: the jobs a sync then creates and resumes are the ones it planned.

Each test runs ``--plan --format=json`` (which must call no upstream and write nothing but
the plan), then the sync from the same state, and compares the windows the upstream saw
created with the plan's ``new`` windows, and the plan's ``resume`` windows with the jobs
kept in state. For a first run, an incremental run and a run after SIGKILL.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tests.kit.faultkit import CHARTMOGUL_STREAMS, PEOPLEAI_STREAMS
from tests.kit.tap_process import (
    batch_config,
    batch_records,
    catalog_of,
    killed_run,
    run_tap,
    tap_command,
)
from tests.kit.upstream import END, chartmogul_config, fast_upstream_config, peopleai_config
from tests.process.test_resume import FRAGMENT_RECORDS, crash_mid_download

TAP_START = dt.date(2023, 1, 1)  # two snapshot windows per People.ai stream, two per ChartMogul
HISTORY_START = dt.date(2023, 10, 1)


def both_config(up, **overrides) -> dict:
    return {**peopleai_config(up), **chartmogul_config(up), **overrides}


def run_plan(config: dict, workdir: Path, *, state=None, catalog=None, text=False) -> dict | str:
    """``--plan`` (JSON unless ``text``): its stdout must be the plan and nothing else."""
    args = ("--plan",) if text else ("--plan", "--format=json")
    proc = subprocess.run(
        tap_command(config, workdir, state=state, catalog=catalog, args=args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout if text else json.loads(proc.stdout)  # one document, no Singer message


def planned(plan: dict, job: str) -> list[tuple[str, str, str | None]]:
    """(stream, window, export type) of the plan's windows whose job is ``job``."""
    return sorted(
        (s["stream"], f"{w['start']}..{w['end']}", w["export_type"])
        for s in plan["streams"]
        for w in s["windows"]
        if w["job"] == job
    )


def created(up) -> list[tuple[str, str, str | None]]:
    """(stream, window, export type) of every job and export the upstream was asked for."""
    jobs = [
        (f"peopleai_{j['activity_type']}", f"{j['start_date']}..{j['end_date']}", j["export_type"])
        for j in up.peopleai.jobs()
    ]
    for export in up.chartmogul.exports():
        params = export["params"]["params"]
        window = f"{params['start_date'][:10]}..{params['end_date'][:10]}"
        jobs.append((f"chartmogul_{params['activity_type']}", window, None))
    return jobs


def kept(state: dict) -> list[tuple[str, str, str | None]]:
    """(stream, window, export type) of the jobs a STATE keeps."""
    return sorted(
        (stream, key, job.get("export_type"))
        for stream, value in state.get("bookmarks", {}).items()
        for key, job in value.get("jobs", {}).items()
    )


def assert_plan_is_what_sync_did(up, plan: dict, sync, before: list) -> None:
    """The sync created exactly the plan's new windows: no more (its resumed ones), no less."""
    assert sync.returncode == 0, sync.stderr[-3000:]
    assert sorted((Counter(created(up)) - Counter(before)).elements()) == planned(plan, "new")
    assert plan["totals"]["jobs_to_create"] == len(planned(plan, "new"))
    assert plan["totals"]["windows"] == len(planned(plan, "new")) + len(planned(plan, "resume"))


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_a_first_run_does_what_its_plan_said(mode, tmp_path):
    with LocalUpstream(fast_upstream_config(start=HISTORY_START)) as up:
        config = both_config(up, start_date=TAP_START.isoformat())
        if mode == "batch":
            config["batch_config"] = batch_config(tmp_path / "batches")
        plan = run_plan(config, tmp_path / "plan")
        assert up.requests_log == [], "--plan called the upstream"
        assert plan["totals"]["jobs_to_create"] == 3 * 2 + 5 * 2
        assert plan["totals"]["estimate_seconds"] is None  # no history yet
        assert plan["limits"]["peopleai"]["running"] == 2
        assert plan["limits"]["peopleai"]["rounds"] == 3  # 6 windows, 2 at a time

        sync = run_tap(config, tmp_path / "sync")
        assert_plan_is_what_sync_did(up, plan, sync, [])
        assert planned(plan, "resume") == []
        emitted = batch_records(sync) if mode == "batch" else sync.records
        assert set(emitted) == set(PEOPLEAI_STREAMS) | set(CHARTMOGUL_STREAMS)


def test_an_incremental_run_does_what_its_plan_said(tmp_path):
    with LocalUpstream(fast_upstream_config(start=HISTORY_START)) as up:
        config = both_config(up)
        first = run_tap(config, tmp_path / "first")
        assert first.returncode == 0, first.stderr[-3000:]
        state = first.state
        before = created(up)

        plan = run_plan(config, tmp_path / "plan", state=state)
        text = run_plan(config, tmp_path / "plan-text", state=state, text=True)
        # meltano's stored form, as `meltano state get` prints it, plans the same
        wrapped = run_plan(config, tmp_path / "plan-meltano", state={"singer_state": state})
        assert wrapped == plan
        assert len(created(up)) == len(before), "--plan created an export"
        assert not any(line.startswith("{") for line in text.splitlines())
        assert "People.ai: 2 running, 10 queued" in text
        kinds = {w["export_type"] for s in plan["streams"] for w in s["windows"]}
        assert kinds == {"delta", None}  # deltas, and ChartMogul's look-back

        second = run_tap(config, tmp_path / "second", state=state)
        assert_plan_is_what_sync_did(up, plan, second, before)
        assert planned(plan, "resume") == []


@pytest.mark.parametrize("source", ["peopleai", "chartmogul"])
def test_a_run_after_sigkill_resumes_what_its_plan_said(source, tmp_path):
    upstream = fast_upstream_config(start=HISTORY_START, fragment_records=FRAGMENT_RECORDS)
    with LocalUpstream(upstream) as up:
        if source == "peopleai":  # killed in peopleai_call's second snapshot window
            config, state, _ = crash_mid_download(up, "peopleai", tmp_path)
        else:  # killed in chartmogul_churn's second window, the others' jobs created
            config, state = killed_in_second_chartmogul_window(up, tmp_path)
        assert kept(state), "no job kept in the last STATE"
        before = created(up)

        plan = run_plan(config, tmp_path / "plan", state=state)
        resumed = planned(plan, "resume")
        assert resumed
        assert resumed == kept(state)  # both go on the day after an interrupted bookmark
        second = run_tap(config, tmp_path / "second", state=state)
        assert_plan_is_what_sync_did(up, plan, second, before)
        assert "resuming from state" in second.stderr


def killed_in_second_chartmogul_window(up, tmp_path: Path) -> tuple[dict, dict]:
    """SIGKILL the tap while it downloads chartmogul_churn's second window's file."""
    config = chartmogul_config(up, start_date=TAP_START.isoformat())
    hold = up.faults.hold("files.get", skip=1)
    states = killed_run(config, tmp_path / "first", tmp_path / "sink.jsonl", hold)
    return config, states[-1]


def test_plan_honours_the_catalog_and_needs_no_reachable_upstream(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = both_config(up)
        catalog = catalog_of(config, "peopleai_email")
    # the upstream is gone: planning must not need it
    plan = run_plan(config, tmp_path / "plan", catalog=catalog)
    assert [s["stream"] for s in plan["streams"]] == ["peopleai_email"]
    assert list(plan["limits"]) == ["peopleai"]


def test_plan_refuses_a_format_it_does_not_print(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        run = run_tap(peopleai_config(up), tmp_path, args=("--plan", "--format=markdown"))
        assert run.returncode == 1
        assert run.cli_errors == [
            "tap-activities: error: --plan prints text or JSON (--format=json), "
            "not --format=markdown"
        ]
        assert run.messages == []
        assert up.requests_log == []


def test_the_estimate_uses_the_history_kept_in_state(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = peopleai_config(up)
    measured = {
        "window": "2024-01-01..2024-01-14",
        "export_type": "delta",
        "days": 14,
        "job_seconds": 120.0,
        "download_seconds": 14.0,
        "bytes": 1000,
        "records": 10,
    }
    state = {
        "bookmarks": {
            stream: {"bookmark": "2024-01-20", "mode": "delta", "history": [measured]}
            for stream in PEOPLEAI_STREAMS
        }
    }
    plan = run_plan(config, tmp_path, state=state)
    # 3 streams x 3 delta windows (01-20..02-02, 02-03..02-16, 02-17..02-20), 2 jobs at once
    assert plan["totals"]["windows"] == 9
    assert plan["totals"]["estimate_basis"] == "history"
    assert plan["totals"]["decided_by"] == "peopleai"
    assert plan["totals"]["estimate_seconds"] >= 5 * 120  # at least ceil(9 / 2) rounds
    text = run_plan(config, tmp_path / "text", state=state, text=True)
    assert "decided by People.ai's 2 running jobs" in text


def test_an_old_state_without_the_new_keys_still_syncs(tmp_path):
    """State written before history_start existed: the run goes on from its bookmark."""
    with LocalUpstream(fast_upstream_config()) as up:
        config = chartmogul_config(up)
        old = {"bookmarks": {s: {"bookmark": "2024-02-10"} for s in CHARTMOGUL_STREAMS}}
        run = run_tap(config, tmp_path, state=old)
        assert run.returncode == 0, run.stderr[-3000:]
        windows = {w for _, w, _ in created(up)}
        assert windows == {f"2024-02-03..{END.isoformat()}"}
        for stream in CHARTMOGUL_STREAMS:
            assert run.bookmarks(stream)["history_start"] == config["start_date"]


def test_after_a_real_multi_window_sync_the_plan_estimates_from_its_history(tmp_path):
    """The history a sync writes into state is what the next plan times its windows with."""
    upstream = fast_upstream_config(start=HISTORY_START, queue_seconds=0.5, run_seconds=1.5)
    with LocalUpstream(upstream) as up:
        config = peopleai_config(up, start_date=TAP_START.isoformat())
        first = run_tap(config, tmp_path / "first")
        assert first.returncode == 0, first.stderr[-3000:]
        for stream in PEOPLEAI_STREAMS:
            kept = first.bookmarks(stream)["history"]
            assert [h["export_type"] for h in kept] == ["snapshot", "snapshot"], kept
        # a later night: the deltas of a month, timed from the snapshot windows measured
        config["end_date"] = (END + dt.timedelta(days=30)).isoformat()
        plan = run_plan(config, tmp_path / "plan", state=first.state)
    totals = plan["totals"]
    assert totals["estimate_basis"] == "history"
    assert totals["measured_windows"] == 6
    assert totals["estimate_seconds"] is not None
    assert totals["estimate_seconds"] >= 1  # each measured job took at least a second
    assert all(s["estimate_seconds"] is not None for s in plan["streams"])
    assert totals["decided_by"] in {"peopleai", "downloads"}
