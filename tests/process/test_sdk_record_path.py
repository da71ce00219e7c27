"""Stream maps and flattening still apply: the fast output path steps aside for them.

Records normally leave as the upstream's own JSON bytes; a stream map or flattening must
turn that off and let the SDK transform every record, in RECORD and in BATCH mode.
"""

from __future__ import annotations

import gzip
import json

from tests.kit.tap_process import assert_unchanged, batch_config, run_tap
from tests.kit.upstream import END, START, chartmogul_config, peopleai_config


def batch_records(root, stream: str) -> list[dict]:
    """Every record in the batch files of one stream."""
    records = []
    for path in root.iterdir():
        if stream in path.name:
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                records.extend(json.loads(line) for line in lines)
    return records


MAPS = {
    "peopleai_email": {"summary": "__NULL__", "uid_copy": "uid"},
    "chartmogul_churn": {"__alias__": "churn_events"},
}


def test_stream_maps_transform_every_record(upstream, tmp_path):
    config = {
        **peopleai_config(upstream),
        **chartmogul_config(upstream),
        "stream_maps": MAPS,
    }
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    want = {r["uid"]: r for r in upstream.peopleai.records("email", START, END, by="activity")}
    emails = run.records["peopleai_email"]
    assert sorted(r["uid"] for r in emails) == sorted(want)
    for record in emails:
        assert "summary" not in record
        assert record["uid_copy"] == record["uid"]
        assert record["subject"] == want[record["uid"]]["subject"]
    # An untouched stream keeps its records whole.
    calls = {r["uid"]: r for r in upstream.peopleai.records("call", START, END, by="activity")}
    assert sorted(r["uid"] for r in run.records["peopleai_call"]) == sorted(calls)
    for record in run.records["peopleai_call"]:
        assert_unchanged(record, calls[record["uid"]])
    assert "chartmogul_churn" not in run.records
    churn = upstream.chartmogul.rows("churn", START, END)
    assert sorted(r["uuid"] for r in run.records["churn_events"]) == sorted(
        r["uuid"] for r in churn
    )


def test_flattening_applies_in_record_and_batch_mode(upstream, tmp_path):
    config = {**peopleai_config(upstream), "flattening_enabled": True, "flattening_max_depth": 1}
    run = run_tap(config, tmp_path / "record")
    assert run.returncode == 0, run.stderr[-3000:]
    meetings = run.records["peopleai_meeting"]
    assert meetings
    assert all("stats" not in r for r in meetings)
    assert any(key.startswith("stats__") for r in meetings for key in r)

    batches = tmp_path / "batches"
    batches.mkdir()
    config["batch_config"] = batch_config(batches)
    run = run_tap(config, tmp_path / "batch")
    assert run.returncode == 0, run.stderr[-3000:]
    lines = batch_records(batches, "peopleai_meeting")
    assert sorted(r["uid"] for r in lines) == sorted(r["uid"] for r in meetings)
    assert all("stats" not in r for r in lines)
    assert any(key.startswith("stats__") for r in lines for key in r)


def test_batch_files_carry_mapped_records(upstream, tmp_path):
    batches = tmp_path / "batches"
    batches.mkdir()
    config = {
        **peopleai_config(upstream),
        "stream_maps": MAPS,
        "batch_config": batch_config(batches),
    }
    run = run_tap(config, tmp_path / "run")
    assert run.returncode == 0, run.stderr[-3000:]
    emails = batch_records(batches, "peopleai_email")
    want = upstream.peopleai.records("email", START, END, by="activity")
    assert sorted(r["uid"] for r in emails) == sorted(r["uid"] for r in want)
    assert all("summary" not in r and r["uid_copy"] == r["uid"] for r in emails)


def test_batch_with_a_stream_split_in_two_is_refused_in_one_line(upstream, tmp_path):
    config = {
        **peopleai_config(upstream),
        "stream_maps": {
            "peopleai_call": {"__alias__": "calls"},
            "calls_copy": {"__source__": "peopleai_call"},
        },
        "batch_config": batch_config(tmp_path),
    }
    run = run_tap(config, tmp_path / "run")
    assert run.returncode != 0
    errors = run.cli_errors
    assert len(errors) == 1, run.stderr[-2000:]
    assert "'batch_config'" in errors[0]
    assert "peopleai_call" in errors[0]
    assert "Traceback" not in run.stderr
