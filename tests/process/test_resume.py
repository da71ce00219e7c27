"""Crash and resume: SIGKILL the tap mid-download, rerun from its last STATE.

The tap's stdout goes to a file, as a file sink would keep it. The upstream holds one
download open so the kill lands mid-download, at a known point and with no sleeps. The
rerun starts from the last STATE in the file; together the two runs must deliver every
generated record, and the rerun must pick the exports kept in state up instead of
creating new ones for those windows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tests.kit.faultkit import (
    CHARTMOGUL_STREAMS,
    PEOPLEAI_STREAMS,
    chartmogul_ids,
    key_of,
    peopleai_ids,
)
from tests.kit.tap_process import killed_run, read_sink, run_tap
from tests.kit.upstream import END, chartmogul_config, fast_upstream_config, peopleai_config

HISTORY_START = dt.date(2023, 10, 1)  # upstream data; the tap starts earlier: 2 windows
TAP_START = dt.date(2023, 1, 1)
FRAGMENT_RECORDS = 40


def kept_jobs(state: dict) -> dict[str, dict[str, str]]:
    """Window key -> job id kept in state, per stream."""
    return {
        stream: {key: job["job_id"] for key, job in value.get("jobs", {}).items()}
        for stream, value in state.get("bookmarks", {}).items()
    }


def crash_mid_download(up, source: str, tmp_path: Path) -> tuple[dict, dict, Path]:
    """Run the tap until a download is held, SIGKILL it; return config, last state, sink."""
    if source == "peopleai":
        config = peopleai_config(up, start_date=TAP_START.isoformat(), download_workers=1)
        # peopleai_call syncs first; let its first window and one fragment of the second
        # through, then hold the next fragment.
        first = up.peopleai.records("call", TAP_START, dt.date(2023, 12, 31), "activity")
        hold = up.faults.hold("peopleai.data", skip=math.ceil(len(first) / FRAGMENT_RECORDS) + 1)
    else:
        config = chartmogul_config(up)
        hold = up.faults.hold("files.get")  # the first file (chartmogul_churn)
    sink = tmp_path / "sink.jsonl"
    states = killed_run(config, tmp_path / "first", sink, hold)
    assert states, "no STATE before the kill"
    return config, states[-1], sink


@pytest.mark.parametrize("source", ["peopleai", "chartmogul"])
def test_killed_mid_download_resumes_the_kept_exports(source, tmp_path):
    upstream_config = fast_upstream_config(start=HISTORY_START, fragment_records=FRAGMENT_RECORDS)
    with LocalUpstream(upstream_config) as up:
        config, state, sink = crash_mid_download(up, source, tmp_path)
        kept = kept_jobs(state)
        in_flight = "peopleai_call" if source == "peopleai" else "chartmogul_churn"
        assert kept.get(in_flight), f"the in-flight export is not in state: {state}"
        created_before = len(_jobs(up, source))

        second = run_tap(config, tmp_path / "second", state=state)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "resuming from state" in second.stderr

        # No new export for any window whose export was kept in state.
        new = _jobs(up, source)[created_before:]
        kept_windows = {(s, w) for s, windows in kept.items() for w in windows}
        recreated = {w for w in map(_window_of(source), new) if w in kept_windows}
        assert recreated == set(), f"exports created again: {recreated}"
        # Every job had been created (ahead) before the kill, and state kept them all,
        # also those of streams that had not started to sync: nothing was made again.
        assert set(kept) == set(_streams(source)), kept
        assert new == []

        # Both runs together delivered every record the upstream generated.
        first_records, _ = read_sink(sink)
        expected = peopleai_ids(up, TAP_START, END) if source == "peopleai" else chartmogul_ids(up)
        for stream, ids in expected.items():
            got = {r[key_of(stream)] for r in first_records.get(stream, [])}
            got |= {r[key_of(stream)] for r in second.records.get(stream, [])}
            assert got == ids, f"{stream}: {len(ids - got)} record(s) lost"
        for stream in expected:
            assert second.bookmarks(stream)["bookmark"] == END.isoformat()
            assert "jobs" not in second.bookmarks(stream)


def test_a_job_the_upstream_forgot_is_dropped_and_exported_again(tmp_path):
    with LocalUpstream(
        fast_upstream_config(start=HISTORY_START, fragment_records=FRAGMENT_RECORDS)
    ) as up:
        config, state, sink = crash_mid_download(up, "peopleai", tmp_path)
        forgotten = kept_jobs(state)["peopleai_call"]
        assert forgotten
        up.peopleai.forget_jobs()  # the retention period passed

        second = run_tap(config, tmp_path / "second", state=state)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "is gone upstream" in second.stderr
        ids_now = {j["job_id"] for j in up.peopleai.jobs()}
        assert ids_now.isdisjoint(forgotten.values())
        expected = peopleai_ids(up, TAP_START, END)
        first_records, _ = read_sink(sink)
        for stream, ids in expected.items():
            got = {r["uid"] for r in first_records.get(stream, [])}
            got |= {r["uid"] for r in second.records.get(stream, [])}
            assert got == ids, f"{stream}: {len(ids - got)} record(s) lost"
        serialized = json.dumps(second.state)
        assert not any(job_id in serialized for job_id in forgotten.values())


def _streams(source: str) -> dict[str, str]:
    return PEOPLEAI_STREAMS if source == "peopleai" else CHARTMOGUL_STREAMS


def _jobs(up, source: str) -> list[dict]:
    return up.peopleai.jobs() if source == "peopleai" else up.chartmogul.exports()


def _window_of(source: str):
    """(stream, window key) an upstream job or export was made for."""

    def peopleai(job: dict) -> tuple[str, str]:
        return f"peopleai_{job['activity_type']}", f"{job['start_date']}..{job['end_date']}"

    def chartmogul(export: dict) -> tuple[str, str]:
        params = export["params"]["params"]
        window = f"{params['start_date'][:10]}..{params['end_date'][:10]}"
        return f"chartmogul_{params['activity_type']}", window

    return peopleai if source == "peopleai" else chartmogul
