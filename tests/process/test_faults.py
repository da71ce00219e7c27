"""The fault suite: each upstream fault switched on, and still every record exactly once.

Each case runs the tap as a process against a local upstream with one fault armed, then
compares the emitted primary keys with the ones the upstream generated and checks that
the state finished every window. The faults are those of a real bulk-export API: use
limits, 429/5xx on any call, resets, timeouts, truncated or corrupt downloads, failed
jobs, lost answers to job creation, expiring file URLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tests.kit.faultkit import (
    CHARTMOGUL_STREAMS,
    PEOPLEAI_STREAMS,
    assert_all_windows_done,
    assert_exactly,
    chartmogul_ids,
    peopleai_ids,
    run_side_by_side,
)
from tests.kit.tap_process import TapRun, run_tap
from tests.kit.upstream import END, START, chartmogul_config, fast_upstream_config, peopleai_config


@dataclass(frozen=True)
class Case:
    """One fault, how to arm it, and what the tap's config needs for it."""

    arm: Callable
    config: dict = field(default_factory=dict)
    extra_jobs: int = 0  # jobs beyond one per window that the fault legitimately causes
    log: str = ""  # what the tap must say about it
    upstream: dict = field(default_factory=dict)  # UpstreamConfig overrides
    state: dict | None = None


PEOPLEAI_CASES = {
    "create-429-retry-after": Case(
        lambda f: f.http_error("peopleai.create", 429, times=3, retry_after=0.2)
    ),
    "create-500": Case(lambda f: f.http_error("peopleai.create", 500, times=2)),
    "create-503-retry-after": Case(
        lambda f: f.http_error("peopleai.create", 503, times=2, retry_after=0.1)
    ),
    "create-reset": Case(lambda f: f.reset_connection("peopleai.create", times=2)),
    "create-answer-lost": Case(
        lambda f: f.lose_create_response("peopleai.create", times=2),
        log="adopted unanswered export job",
    ),
    "create-answer-lost-list-500": Case(
        lambda f: (
            f.lose_create_response("peopleai.create"),
            f.http_error("peopleai.list", 500, times=2),
        )
    ),
    "token-500": Case(lambda f: f.http_error("peopleai.token", 500, times=2)),
    "token-reset": Case(lambda f: f.reset_connection("peopleai.token")),
    "status-500": Case(lambda f: f.http_error("peopleai.status", 500, times=3)),
    "status-429-retry-after": Case(
        lambda f: f.http_error("peopleai.status", 429, times=2, retry_after=0.1)
    ),
    "status-reset": Case(lambda f: f.reset_connection("peopleai.status", times=2)),
    "status-timeout": Case(
        lambda f: f.slow("peopleai.status", 1.0, times=1), {"request_timeout_seconds": 0.3}
    ),
    # A job stuck Running past job_timeout_seconds is created again, like a failed one.
    "job-stuck-once": Case(
        lambda f: f.stall_jobs(times=1),
        {"job_timeout_seconds": 1.5},
        extra_jobs=1,
        log="after job_timeout_seconds=1.5; creating it again (attempt 2 of 3)",
    ),
    "data-500": Case(lambda f: f.http_error("peopleai.data", 500, times=3)),
    "data-503-retry-after": Case(
        lambda f: f.http_error("peopleai.data", 503, times=2, retry_after=0.1)
    ),
    "data-reset": Case(lambda f: f.reset_connection("peopleai.data", times=2)),
    "fragment-truncated": Case(lambda f: f.truncate_download(times=2)),
    "fragment-broken-json-line": Case(lambda f: f.corrupt_json_line(times=2)),
    "job-failed": Case(lambda f: f.fail_jobs(times=2), extra_jobs=2),
    "job-canceled": Case(lambda f: f.fail_jobs(times=2, state="Canceled"), extra_jobs=2),
}

CHARTMOGUL_CASES = {
    "create-429-retry-after": Case(
        lambda f: f.http_error("chartmogul.create", 429, times=3, retry_after=0.2)
    ),
    "create-500": Case(lambda f: f.http_error("chartmogul.create", 500, times=2)),
    "create-reset": Case(lambda f: f.reset_connection("chartmogul.create", times=2)),
    # No documented list of exports to reconcile with: the lost export is created again.
    "create-answer-lost": Case(
        lambda f: f.lose_create_response("chartmogul.create", times=2), extra_jobs=2
    ),
    "status-500": Case(lambda f: f.http_error("chartmogul.status", 500, times=3)),
    "status-429-retry-after": Case(
        lambda f: f.http_error("chartmogul.status", 429, times=2, retry_after=0.1)
    ),
    "status-reset": Case(lambda f: f.reset_connection("chartmogul.status", times=2)),
    "status-timeout": Case(
        lambda f: f.slow("chartmogul.status", 1.0, times=1), {"request_timeout_seconds": 0.3}
    ),
    "file-500": Case(lambda f: f.http_error("files.get", 500, times=2)),
    "file-reset": Case(lambda f: f.reset_connection("files.get", times=2)),
    "file-truncated": Case(lambda f: f.truncate_download(times=2)),
    # The stored zip itself is damaged: downloading it again cannot help, exporting can.
    "zip-bad-crc": Case(lambda f: f.bad_zip_crc(times=2), extra_jobs=2),
    "file-url-403-early": Case(lambda f: f.expire_files(times=2), extra_jobs=2),
    "file-url-past-expires-at": Case(lambda f: f.expired_urls(times=2), extra_jobs=2),
    "export-failed": Case(lambda f: f.fail_exports(times=2), extra_jobs=2),
}


def _delta_state(day: dt.date) -> dict:
    """State of streams whose history is built: delta windows from ``day``."""
    return {
        "bookmarks": {
            stream: {"bookmark": day.isoformat(), "mode": "delta"} for stream in PEOPLEAI_STREAMS
        }
    }


# Runs that end in an error, or need a particular upstream: checked by the tests below.
SCENARIOS = {
    # 3 streams x 4 delta windows = 12 jobs, more than the 10 People.ai lets queue; this
    # upstream would accept them all, and its jobs run long enough for a queue to build.
    "peopleai/queue-limit": Case(
        lambda f: None,
        upstream={"max_queued_jobs": 100, "run_seconds": 0.5},
        state=_delta_state(START),
    ),
    "peopleai/queue-full": Case(
        lambda f: None, upstream={"max_queued_jobs": 3}, state=_delta_state(START)
    ),
    # Three snapshot windows; only the last one's jobs fail (or never finish).
    "peopleai/window-Failed": Case(
        lambda f: f.fail_jobs(times=20, state="Failed", start_date="2024-01-01"),
        {"start_date": "2022-01-01", "job_timeout_seconds": 1.5},
    ),
    "peopleai/window-Canceled": Case(
        lambda f: f.fail_jobs(times=20, state="Canceled", start_date="2024-01-01"),
        {"start_date": "2022-01-01", "job_timeout_seconds": 1.5},
    ),
    # Jobs stuck Running keep their places upstream (there is no cancel): here the upstream
    # has room for them, so only the stuck window fails, after three attempts.
    "peopleai/window-stall": Case(
        lambda f: f.stall_jobs(times=20, start_date="2024-01-01"),
        {"start_date": "2022-01-01", "job_timeout_seconds": 1.5},
        upstream={"max_running_jobs": 100, "max_queued_jobs": 100},
    ),
    # Here they fill its queue: new jobs are refused (429) until job_timeout_seconds.
    "peopleai/queue-stuck": Case(
        lambda f: f.stall_jobs(times=1000),
        {"job_timeout_seconds": 1.5},
        upstream={"max_queued_jobs": 3},
    ),
    "chartmogul/window-failed": Case(
        lambda f: f.fail_exports(times=100, start_date="2024-01-01"),
        {"start_date": "2023-01-01", "job_timeout_seconds": 1.5},
    ),
    "chartmogul/window-stall": Case(
        lambda f: f.stall_exports(times=100),
        {"start_date": "2023-01-01", "job_timeout_seconds": 1.5},
    ),
    "chartmogul/create-keeps-failing": Case(
        lambda f: f.http_error("chartmogul.create", 500, times=10_000), {"max_retry_seconds": 1}
    ),
    "peopleai/fragment-stays-malformed": Case(
        lambda f: f.corrupt_json_line(times=100), {"download_workers": 1}
    ),
}


def case_of(key: str) -> Case:
    """The case behind a key ``source/name``."""
    source, name = key.split("/", 1)
    table = PEOPLEAI_CASES if source == "peopleai" else CHARTMOGUL_CASES
    return SCENARIOS.get(key) or table[name]


@dataclass
class Outcome:
    """What one run produced, and what the upstream saw meanwhile."""

    run: TapRun
    expected: dict[str, set[str]]
    jobs: list[dict]
    peak_open_jobs: int
    violations: list[str]
    data_calls: int
    unfired: list[str]  # faults armed that never fired: such a run proves nothing


def _run(key: str, workdir: Path) -> Outcome:
    source, case = key.split("/", 1)[0], case_of(key)
    with LocalUpstream(fast_upstream_config(**case.upstream)) as up:
        case.arm(up.faults)
        make = peopleai_config if source == "peopleai" else chartmogul_config
        run = run_tap(make(up, **case.config), workdir, state=case.state)
        data_calls = sum(1 for r in up.requests_log if r.path.endswith("/data"))
        if source == "peopleai":
            by = "processed" if case.state else "activity"
            expected = peopleai_ids(up, START, END, by=by)
            jobs, peak = up.peopleai.jobs(), up.peopleai.peak_open_jobs
        else:
            expected, jobs, peak = chartmogul_ids(up), up.chartmogul.exports(), 0
        return Outcome(
            run, expected, jobs, peak, list(up.violations), data_calls, up.faults.unfired()
        )


def _key(item: pytest.Item) -> str | None:
    params = getattr(item, "callspec", None)
    params = params.params if params else {}
    if item.originalname == "test_peopleai_fault":
        return f"peopleai/{params['name']}"
    if item.originalname == "test_chartmogul_fault":
        return f"chartmogul/{params['name']}"
    return params.get("scenario")


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Every selected run of this module, side by side (each with its own upstream)."""
    base = tmp_path_factory.mktemp("faults")  # here: mktemp is not thread-safe
    return run_side_by_side(request, _key, lambda key: _run(key, base / key.replace("/", "-")))


@pytest.mark.parametrize("name", sorted(PEOPLEAI_CASES))
def test_peopleai_fault(name, outcomes):
    """The fault is survived: every record exactly once, every window finished."""
    case, outcome = PEOPLEAI_CASES[name], outcomes[f"peopleai/{name}"]
    run = outcome.run
    assert not outcome.unfired, outcome.unfired
    assert run.returncode == 0, run.stderr[-3000:]
    assert_exactly(run.records, outcome.expected)
    assert_all_windows_done(run.state, PEOPLEAI_STREAMS)
    assert len(outcome.jobs) == len(PEOPLEAI_STREAMS) + case.extra_jobs, [
        (j["activity_type"], j["state"]) for j in outcome.jobs
    ]
    assert outcome.peak_open_jobs <= 10
    assert outcome.violations == []
    assert case.log in run.stderr


@pytest.mark.parametrize("name", sorted(CHARTMOGUL_CASES))
def test_chartmogul_fault(name, outcomes):
    """The fault is survived: every record exactly once, every window finished."""
    case, outcome = CHARTMOGUL_CASES[name], outcomes[f"chartmogul/{name}"]
    run = outcome.run
    assert not outcome.unfired, outcome.unfired
    assert run.returncode == 0, run.stderr[-3000:]
    assert_exactly(run.records, outcome.expected)
    assert_all_windows_done(run.state, CHARTMOGUL_STREAMS)
    assert len(outcome.jobs) == len(CHARTMOGUL_STREAMS) + case.extra_jobs
    assert outcome.violations == []
    assert case.log in run.stderr


@pytest.mark.parametrize("scenario", ["peopleai/queue-limit"])
def test_peopleai_jobs_stay_within_the_queue_limit_across_streams(scenario, outcomes):
    outcome = outcomes[scenario]
    assert not outcome.unfired, outcome.unfired
    assert outcome.run.returncode == 0, outcome.run.stderr[-3000:]
    assert len(outcome.jobs) == 12
    assert 2 < outcome.peak_open_jobs <= 10
    assert_exactly(outcome.run.records, outcome.expected)


@pytest.mark.parametrize("scenario", ["peopleai/queue-full"])
def test_peopleai_queue_full_answers_429_and_the_tap_waits(scenario, outcomes):
    outcome = outcomes[scenario]
    assert not outcome.unfired, outcome.unfired
    assert outcome.run.returncode == 0, outcome.run.stderr[-3000:]
    assert "limited by the upstream" in outcome.run.stderr
    assert len(outcome.jobs) == 12  # a 429 is not a failed job: nothing re-created
    assert {j["state"] for j in outcome.jobs} == {"Completed"}
    assert_exactly(outcome.run.records, outcome.expected)


def _error_line(run) -> str:
    assert run.returncode != 0
    errors = run.cli_errors
    assert len(errors) == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return errors[0]


def _bookmark(run, stream: str) -> str | None:
    return run.bookmarks(stream).get("bookmark")


def _failed_stream(line: str) -> str:
    """The stream an error line names (streams sync in name order; any may fail first)."""
    return line.split("error: ", 1)[1].split(maxsplit=1)[0]


@pytest.mark.parametrize(
    "scenario", ["peopleai/window-Failed", "peopleai/window-Canceled", "peopleai/window-stall"]
)
def test_peopleai_window_that_keeps_failing_ends_the_sync_and_keeps_earlier_state(
    scenario, outcomes
):
    outcome, fault = outcomes[scenario], scenario.rsplit("-", 1)[1]
    assert not outcome.unfired, outcome.unfired
    run = outcome.run
    line = _error_line(run)
    last = [j for j in outcome.jobs if j["start_date"] == "2024-01-01"]
    assert "window 2024-01-01..2024-02-20" in line
    assert any(job["job_id"] in line for job in last), line
    if fault == "stall":
        assert "still running after job_timeout_seconds=1.5" in line
    else:
        assert f"ended {fault.lower()}" in line
    # Stuck or failed, the window's job was created three times before the error.
    assert "gave up after 3 attempts" in line
    assert len(last) >= 3
    # Windows finished before the failure keep their bookmark in the last STATE.
    stream = _failed_stream(line)
    assert stream in PEOPLEAI_STREAMS
    assert _bookmark(run, stream) == "2023-12-31"
    assert run.bookmarks(stream)["mode"] == "snapshot"


@pytest.mark.parametrize("scenario", ["peopleai/queue-stuck"])
def test_a_queue_full_of_stuck_jobs_ends_the_run_with_a_clear_line(scenario, outcomes):
    run = outcomes[scenario].run
    assert not outcomes[scenario].unfired
    line = _error_line(run)
    assert "job_timeout_seconds=1.5" in line
    assert "gave up after 3 attempts" in line or "refused new export jobs" in line


@pytest.mark.parametrize("scenario", ["chartmogul/window-failed", "chartmogul/window-stall"])
def test_chartmogul_window_that_keeps_failing_ends_the_sync_and_keeps_earlier_state(
    scenario, outcomes
):
    outcome = outcomes[scenario]
    assert not outcome.unfired, outcome.unfired
    run = outcome.run
    line = _error_line(run)
    assert any(e["id"] in line for e in outcome.jobs), line
    stream = _failed_stream(line)
    assert stream in CHARTMOGUL_STREAMS
    assert "gave up after 3 attempts" in line
    if scenario.endswith("stall"):
        assert "still running after job_timeout_seconds=1.5" in line
        assert "window 2023-01-01..2023-12-31" in line
        assert _bookmark(run, stream) is None
    else:
        assert "window 2024-01-01..2024-02-20" in line
        assert _bookmark(run, stream) == "2023-12-31"


@pytest.mark.parametrize("scenario", ["chartmogul/create-keeps-failing"])
def test_creation_that_keeps_failing_gives_up_after_max_retry_seconds(scenario, outcomes):
    outcome = outcomes[scenario]
    assert not outcome.unfired, outcome.unfired
    line = _error_line(outcome.run)
    assert outcome.jobs == []
    assert "kept failing for max_retry_seconds=1" in line
    assert "HTTP 500" in line


@pytest.mark.parametrize("scenario", ["peopleai/fragment-stays-malformed"])
def test_fragment_that_stays_malformed_names_stream_window_fragment_and_line(scenario, outcomes):
    outcome = outcomes[scenario]
    assert not outcome.unfired, outcome.unfired
    line = _error_line(outcome.run)
    stream = _failed_stream(line)
    assert stream in PEOPLEAI_STREAMS
    assert f"{stream} window 2024-01-01..2024-02-20 snapshot job" in line
    assert "fragment 0: line 1 is not valid JSON" in line
    assert "fetched 3 times" in line
    assert outcome.data_calls >= 3
    assert outcome.run.records.get(stream, []) == []  # nothing of a broken part emitted
