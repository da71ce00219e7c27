"""The run report against the local upstream: progress, summary, proof, METRIC lines, history.

Every figure the tap reports is compared with what the upstream itself saw or served:
the jobs it created, the ``results_size`` of each People.ai job, the bytes of each
ChartMogul zip, the records of each window, the 429 answers a fault injected. The
progress line's rate limit is checked by counting lines, never by timing them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import requests

from activities_upstream import LocalUpstream
from tests.kit.tap_process import TapRun, batch_config, batch_records, catalog_of, run_tap
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config

STREAM = "peopleai_email"
BOOKMARK = dt.date(2024, 1, 10)  # deltas from 2024-01-11 to END: three 14-day windows
DELTA_STATE = {"bookmarks": {STREAM: {"bookmark": BOOKMARK.isoformat(), "mode": "delta"}}}
QUIET = 3600  # progress_interval_seconds: the first line only
HISTORY_KEYS = ["window", "export_type", "days", "job_seconds", "download_seconds", "bytes"]


def metric_points(run: TapRun) -> list[dict]:
    """Every METRIC line of the run, parsed as JSON (a line that does not parse fails)."""
    return [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in run.stderr.splitlines()
        if "METRIC: " in line
    ]


def metric(run: TapRun, name: str, stream: str, **tags: str) -> float:
    """The sum of a metric's points for ``stream`` (and ``tags``)."""
    return sum(
        point["value"]
        for point in metric_points(run)
        if point["metric"] == name
        and point["tags"].get("stream") == stream
        and all(point["tags"].get(k) == v for k, v in tags.items())
    )


def lines_with(run: TapRun, text: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if text in line]


def summary_line(run: TapRun, stream: str) -> str:
    (line,) = [line for line in lines_with(run, f"  {stream}: ") if "windows;" in line]
    return line


def days(job: dict) -> tuple[dt.date, dt.date]:
    """A People.ai job's first and last day."""
    return dt.date.fromisoformat(job["start_date"]), dt.date.fromisoformat(job["end_date"])


def emitted(run: TapRun, mode: str) -> dict[str, list[dict]]:
    return batch_records(run) if mode == "batch" else run.records


def peopleai_run(
    tmp_path: Path, mode: str = "record", interval: float = QUIET, **upstream: object
) -> tuple[TapRun, list[dict], LocalUpstream]:
    """One stream's three delta windows; the run, the upstream's jobs, the upstream."""
    with LocalUpstream(fast_upstream_config(**upstream)) as up:
        config = peopleai_config(up, progress_interval_seconds=interval)
        if mode == "batch":
            config["batch_config"] = batch_config(tmp_path / "batches")
        run = run_tap(config, tmp_path, state=DELTA_STATE, catalog=catalog_of(config, STREAM))
        jobs = up.peopleai.jobs()
    return run, jobs, up


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_peopleai_report_equals_what_the_upstream_served(tmp_path, mode):
    run, jobs, up = peopleai_run(tmp_path, mode)
    assert run.returncode == 0, run.stderr[-3000:]
    records = emitted(run, mode)[STREAM]
    assert len(jobs) == 3
    assert all(j["state"] == "Completed" for j in jobs)
    per_job = [len(up.peopleai.records("email", *days(j), by="processed")) for j in jobs]
    assert len(records) == sum(per_job) > 0
    served = sum(j["results_size"] for j in jobs)
    # METRIC lines: the tap's and the SDK's record_count, which counts what went out
    assert metric(run, "record_count", STREAM) == len(records)
    assert metric(run, "export_jobs", STREAM, how="created") == len(jobs)
    assert metric(run, "export_jobs", STREAM, how="resumed") == 0
    assert metric(run, "export_jobs", STREAM, how="recreated") == 0
    assert metric(run, "export_bytes", STREAM) == served
    assert metric(run, "export_windows", STREAM) == 3
    assert metric(run, "rate_limit_waits", STREAM) == 0
    timers = {p["metric"] for p in metric_points(run) if p["type"] == "timer"}
    assert {"upstream_wait_seconds", "export_work_seconds"} <= timers
    # the summary says the same
    line = summary_line(run, STREAM)
    assert "3/3 windows; jobs 3 created, 0 resumed, 0 re-created;" in line
    assert f"; {served} bytes downloaded; {len(records)} records emitted;" in line
    assert "; 0 429 waits" in line
    assert "total: 3/3 windows; jobs 3 created" in lines_with(run, "  total: ")[0]
    # one proof line per window: its export id, results_size against the bytes received
    for job in jobs:
        (proof,) = [
            line for line in lines_with(run, f"export {job['job_id']}: ") if "emitted" in line
        ]
        size = job["results_size"]
        assert f"{size} bytes received of results_size {size}: matches" in proof
        assert f"window {job['start_date']}..{job['end_date']} " in proof
    # the measured history, one entry per window, newest last
    history = run.bookmarks(STREAM)["history"]
    assert [h["window"] for h in history] == [f"{j['start_date']}..{j['end_date']}" for j in jobs]
    assert [h["bytes"] for h in history] == [j["results_size"] for j in jobs]
    assert [h["records"] for h in history] == per_job
    assert all(list(h)[:6] == HISTORY_KEYS and h["export_type"] == "delta" for h in history)
    # whole seconds: singer-sdk targets cannot write back a state that holds a decimal
    assert all(isinstance(h["job_seconds"], int) for h in history)
    assert all(isinstance(h["download_seconds"], int) for h in history)
    assert [h["days"] for h in history] == [(days(j)[1] - days(j)[0]).days + 1 for j in jobs]


def test_progress_lines_follow_the_interval_never_the_records(tmp_path):
    """At most one line per interval: a long one leaves the first line only; with none,
    a line per block and per pause, still far fewer than records."""
    quiet, _, _ = peopleai_run(tmp_path / "quiet", interval=QUIET)
    busy, _, _ = peopleai_run(tmp_path / "busy", interval=0)
    assert quiet.returncode == busy.returncode == 0, busy.stderr[-3000:]
    first = lines_with(quiet, f"{STREAM}: progress: ")
    assert len(first) == 1, first
    assert "0/3 windows done; peopleai jobs: " in first[0]
    assert re.search(r"running \(limit 2\), \d+ queued \(limit 10 open\)", first[0]), first[0]
    many = lines_with(busy, f"{STREAM}: progress: ")
    records = len(busy.records[STREAM])
    assert 3 < len(many) < records, (len(many), records)
    assert any("3/3 windows" in line or "left at the pace" in line for line in many)


def test_429_waits_are_counted(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        up.faults.http_error("peopleai.create", 429, times=3, retry_after=0.1)
        config = peopleai_config(up, progress_interval_seconds=QUIET)
        run = run_tap(config, tmp_path, state=DELTA_STATE, catalog=catalog_of(config, STREAM))
        assert not up.faults.unfired()
    assert run.returncode == 0, run.stderr[-3000:]
    assert metric(run, "rate_limit_waits", STREAM) == 3
    assert summary_line(run, STREAM).endswith("; 3 429 waits")


def test_a_failed_job_counts_as_recreated(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        up.faults.fail_jobs(times=1)
        config = peopleai_config(up, progress_interval_seconds=QUIET)
        run = run_tap(config, tmp_path, state=DELTA_STATE, catalog=catalog_of(config, STREAM))
        jobs = up.peopleai.jobs()
    assert run.returncode == 0, run.stderr[-3000:]
    states = Counter(j["state"] for j in jobs)
    assert states == {"Completed": 3, "Failed": 1}, states
    assert metric(run, "export_jobs", STREAM, how="created") == 3
    assert metric(run, "export_jobs", STREAM, how="recreated") == 1
    assert "jobs 3 created, 0 resumed, 1 re-created;" in summary_line(run, STREAM)


def test_an_expired_file_counts_as_recreated(tmp_path):
    stream = "chartmogul_churn"
    with LocalUpstream(fast_upstream_config()) as up:
        up.faults.expired_urls(times=1)
        config = chartmogul_config(up, progress_interval_seconds=QUIET)
        run = run_tap(config, tmp_path, catalog=catalog_of(config, stream))
        exports = up.chartmogul.exports()
        assert not up.faults.unfired()
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(exports) == 2
    assert metric(run, "export_jobs", stream, how="created") == 1
    assert metric(run, "export_jobs", stream, how="recreated") == 1


def test_a_job_kept_in_state_counts_as_resumed(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = peopleai_config(up, progress_interval_seconds=QUIET)
        catalog = catalog_of(config, STREAM)
        first = run_tap(config, tmp_path / "first", catalog=catalog)
        (job,) = up.peopleai.jobs()
        window = f"{job['start_date']}..{job['end_date']}"
        kept = {"jobs": {window: {"job_id": job["job_id"], "export_type": "snapshot"}}}
        again = run_tap(
            config, tmp_path / "again", state={"bookmarks": {STREAM: kept}}, catalog=catalog
        )
        assert len(up.peopleai.jobs()) == 1  # no job created the second time
    assert first.returncode == again.returncode == 0, again.stderr[-3000:]
    assert metric(again, "export_jobs", STREAM, how="resumed") == 1
    assert metric(again, "export_jobs", STREAM, how="created") == 0
    assert "jobs 0 created, 1 resumed, 0 re-created;" in summary_line(again, STREAM)


def test_a_window_short_of_its_results_size_fails_with_its_proof(tmp_path):
    run, jobs, _ = peopleai_run(tmp_path, missing_fragment=-1)
    assert run.returncode != 0
    (error,) = run.cli_errors
    size = jobs[0]["results_size"]
    found = re.search(rf"proof: (\d+) bytes received of results_size {size}: SHORT", error)
    assert found, error
    assert int(found.group(1)) < size
    assert jobs[0]["job_id"] in error


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_chartmogul_report_equals_what_the_upstream_served(tmp_path, mode):
    stream = "chartmogul_new_biz"
    with LocalUpstream(fast_upstream_config()) as up:
        config = chartmogul_config(up, progress_interval_seconds=QUIET)
        if mode == "batch":
            config["batch_config"] = batch_config(tmp_path / "batches")
        run = run_tap(config, tmp_path, catalog=catalog_of(config, stream))
        exports = up.chartmogul.exports()
        zipped = {e["id"]: len(requests.get(e["file_url"], timeout=30).content) for e in exports}
        rows = up.chartmogul.rows("new_biz", up.config.start, up.config.end)
    assert run.returncode == 0, run.stderr[-3000:]
    records = emitted(run, mode)[stream]
    assert len(records) == len(rows) > 0
    assert metric(run, "record_count", stream) == len(records)
    assert metric(run, "export_bytes", stream) == sum(zipped.values())
    assert metric(run, "export_jobs", stream, how="created") == len(exports)
    for export_id, size in zipped.items():
        (proof,) = [line for line in lines_with(run, f"export {export_id}: ") if "emitted" in line]
        assert re.search(rf"\d+ record\(s\) emitted; {size} bytes received, size not given", proof)
    line = summary_line(run, stream)
    assert f"; {sum(zipped.values())} bytes downloaded; {len(records)} records emitted;" in line


def test_the_history_stays_bounded(tmp_path):
    old = {
        "window": "2023-01-01..2023-01-14",
        "export_type": "delta",
        "days": 14,
        "job_seconds": 2,
        "download_seconds": 1,
        "bytes": 10,
        "records": 1,
    }
    state = json.loads(json.dumps(DELTA_STATE))
    state["bookmarks"][STREAM]["history"] = [{**old, "records": n} for n in range(20)]
    with LocalUpstream(fast_upstream_config()) as up:
        config = peopleai_config(up, progress_interval_seconds=QUIET)
        run = run_tap(config, tmp_path, state=state, catalog=catalog_of(config, STREAM))
    assert run.returncode == 0, run.stderr[-3000:]
    history = run.bookmarks(STREAM)["history"]
    assert len(history) == 20
    assert [h["records"] for h in history[:17]] == list(range(3, 20))
    assert [h["window"][:4] for h in history[17:]] == ["2024"] * 3


def test_a_malformed_history_is_one_line(tmp_path):
    state = json.loads(json.dumps(DELTA_STATE))
    state["bookmarks"][STREAM]["history"] = [{"window": "last week", "bytes": -1}]
    with LocalUpstream(fast_upstream_config()) as up:
        config = peopleai_config(up)
        run = run_tap(config, tmp_path, state=state, catalog=catalog_of(config, STREAM))
        assert up.peopleai.jobs() == []
    assert run.returncode == 1
    (error,) = run.cli_errors
    assert f"state 'bookmarks.{STREAM}.history[0]'" in error
    assert '"window" (YYYY-MM-DD..YYYY-MM-DD)' in error
    assert "Traceback" not in run.stderr
