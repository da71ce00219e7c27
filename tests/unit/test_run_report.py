"""The run report's parts on their own: the proof rule, the history's bound, progress lines."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from tap_activities.errors import ConfigError
from tap_activities.export.proof import ByteProof, Receipts
from tap_activities.export.windows import Window
from tap_activities.report import history
from tap_activities.report.progress import Progress, duration
from tap_activities.report.summary import stream_line, total
from tap_activities.report.tally import StreamTally
from tap_activities.singer.state_input import check_state

WINDOW = Window(dt.date(2024, 5, 1), dt.date(2024, 5, 14))


@pytest.mark.parametrize(
    ("proof", "holds", "verdict"),
    [
        (ByteProof(100, 100), True, "matches"),
        (ByteProof(100, 90), True, "differs, kept: every part answered"),
        (ByteProof(100, 100, every_part_answered=False), True, "matches"),
        (ByteProof(100, 120, every_part_answered=False), True, "reached"),
        (ByteProof(100, 90, every_part_answered=False), False, "SHORT"),
        (ByteProof(None, 90, every_part_answered=False), True, "not given"),
    ],
)
def test_the_proof_rule(proof, holds, verdict):
    assert proof.holds is holds
    assert proof.verdict.startswith(verdict)
    assert str(proof.received) in proof.describe("results_size")


def test_receipts_are_bounded_and_live():
    receipts = Receipts()
    seen = [0]
    receipts.keep("live", lambda: ByteProof(None, seen[0]))
    seen[0] = 7
    assert receipts.proof("live") == ByteProof(None, 7)
    for n in range(Receipts.KEPT):
        receipts.keep(f"job-{n}", lambda: ByteProof(1, 1))
    assert receipts.proof("live") is None
    assert receipts.proof("job-0") is not None


def entry(records: int = 1) -> dict:
    return history.entry(
        WINDOW, "delta", job_seconds=61.6, download_seconds=0.4, received=10, records=records
    )


def test_the_history_keeps_the_newest_twenty():
    state: dict = {}
    for n in range(25):
        history.append(state, entry(n))
    assert [h["records"] for h in state["history"]] == list(range(5, 25))
    assert state["history"][-1] == {
        "window": "2024-05-01..2024-05-14",
        "export_type": "delta",
        "days": 14,
        "job_seconds": 62,
        "download_seconds": 0,
        "bytes": 10,
        "records": 24,
    }
    check_state({"bookmarks": {"s": state}})
    assert not any(isinstance(v, float) for h in state["history"] for v in h.values())


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"history": {"window": "x"}}, "history'"),
        ({"history": [entry()] * 21}, "history'"),
        ({"history": [{**entry(), "window": "2024-05-01"}]}, "history[0]'"),
        ({"history": [entry(), {**entry(), "bytes": -1}]}, "history[1]'"),
        ({"history": [{**entry(), "export_type": "full"}]}, "history[0]'"),
        ({"history": [{**entry(), "days": True}]}, "history[0]'"),
        ({"history": [{k: v for k, v in entry().items() if k != "records"}]}, "history[0]'"),
    ],
)
def test_a_malformed_history_is_refused_with_one_line(bad, where):
    with pytest.raises(ConfigError) as caught:
        check_state({"bookmarks": {"peopleai_email": bad}})
    message = str(caught.value)
    assert f"state 'bookmarks.peopleai_email.{where}" in message
    assert "\n" not in message


@pytest.mark.parametrize(("interval", "lines"), [(3600.0, 1), (0.0, 50)])
def test_progress_logs_at_most_once_per_interval(caplog, interval, lines):
    tally = StreamTally("s", windows_total=4, windows_done=1, records=5, started=0.0)
    progress = Progress(logging.getLogger("t"), tally, interval, lambda: "jobs", lambda: 3)
    with caplog.at_level(logging.INFO, logger="t"):
        for _ in range(50):
            progress.tick()
    assert len(caplog.records) == lines
    assert caplog.records[0].getMessage().startswith("s: progress: 1/4 windows done; jobs; 3 bytes")


def test_the_summary_adds_up():
    a = StreamTally("a", windows_total=2, windows_done=2, bytes=5, records=3, waits_429=1)
    b = StreamTally("b", windows_total=1, windows_done=1, bytes=7, records=4, new_fields=["x"])
    a.jobs["created"], b.jobs["recreated"] = 2, 1
    line = stream_line(total([a, b]))
    assert line.startswith("total: 3/3 windows; jobs 2 created, 0 resumed, 1 re-created;")
    assert "12 bytes downloaded; 7 records emitted; 1 new fields (b.x); 1 429 waits" in line


def test_durations_read_as_people_write_them():
    assert [duration(s) for s in (4.25, 45, 725, 12000)] == ["4.2s", "45s", "12m05s", "3h20m"]
