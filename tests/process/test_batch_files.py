"""BATCH files of People.ai: lines checked, null-filled and compressed in the download workers.

The files must hold exactly the records RECORD messages would carry, at most
``batch_size`` per file, each file one valid gzip member; a broken line is still fetched
again before anything of its fragment reaches a file.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tap_activities.errors import MalformedPartError
from tap_activities.records.deflated import deflate
from tap_activities.records.framing import LINES
from tap_activities.records.spooled import deflate_part, read_deflated
from tap_activities.singer.batch import BatchFileWriter
from tap_activities.sources.peopleai.lines.record_lines import RecordLines
from tests.kit.tap_process import batch_config, run_tap
from tests.kit.upstream import END, START, fast_upstream_config, peopleai_config

FIELDS = ("uid", "subject", "stats")


def files_in_order(root: Path, stream: str) -> list[Path]:
    paths = [p for p in root.iterdir() if f"--{stream}-" in p.name]
    return sorted(paths, key=lambda p: int(re.search(r"-(\d+)\.json\.gz$", p.name)[1]))


def one_member(path: Path) -> bytes:
    """The file's content, checked to be exactly one complete gzip member."""
    inflater = zlib.decompressobj(31)
    data = inflater.decompress(path.read_bytes())
    assert inflater.eof
    assert inflater.unused_data == b""
    return data


def test_deflated_files_hold_batch_size_records_in_one_gzip_member(tmp_path):
    from singer_sdk.helpers._batch import BatchConfig

    config = BatchConfig.from_dict(batch_config(tmp_path, 7))
    blocks = [
        deflate(5, LINES.join([b'{"n":%d}' % (10 * b + i) for i in range(5)])) for b in range(4)
    ]
    manifests = list(BatchFileWriter(config, "tap", "s").deflated_manifests(iter(blocks)))
    counts, numbers = [], []
    for _encoding, (url,) in manifests:
        path = Path(url.removeprefix("file://"))
        rows = [json.loads(line) for line in one_member(path).splitlines()]
        with gzip.open(path, "rb") as lines:  # what a target reads
            assert [json.loads(line) for line in lines] == rows
        counts.append(len(rows))
        numbers.extend(r["n"] for r in rows)
    assert counts == [7, 7, 6]
    assert numbers == [10 * b + i for b in range(4) for i in range(5)]


def test_a_fragment_is_null_filled_and_compressed_in_the_worker(tmp_path):
    part = tmp_path / "part.jsonl"
    part.write_bytes(
        b'{"uid":"a","subject":"s","stats":{"n":1}}\n'  # complete: kept byte for byte
        b"\n"  # blank: dropped
        b'{"uid":"b"}\r\n'  # CRLF, fields missing: nulls appended
        b'{"uid":"c","subject":null,"stats":null,"extra":1.0E2}\r\n'
        b'{"uid":"d","big":123456789012345678901234567890}\n'  # past simdjson: kept exact
        b"  \r\n"
    )
    deflated = deflate_part(
        RecordLines(FIELDS).blocks(part, where="w", framing=LINES, error=MalformedPartError),
        tmp_path,
    )
    blocks = list(read_deflated(deflated))
    assert deflated.closed
    assert sum(b.count for b in blocks) == 4
    data = b"".join(zlib.decompressobj(-15).decompress(b.data) for b in blocks)
    # The very bytes RECORD messages would carry, one record a line.
    assert data == b"".join(
        b for _, b, _unknown in RecordLines(FIELDS).blocks(part, where="w", framing=LINES)
    )
    lines = data.split(b"\n")
    assert lines[0] == b'{"uid":"a","subject":"s","stats":{"n":1}}'
    assert [json.loads(line) for line in lines[1:4]] == [
        {"uid": "b", "subject": None, "stats": None},
        {"uid": "c", "subject": None, "stats": None, "extra": 100.0},
        {"uid": "d", "subject": None, "stats": None, "big": 123456789012345678901234567890},
    ]
    assert lines[4:] == [b""]


def test_a_broken_line_in_the_worker_means_fetch_again(tmp_path):
    part = tmp_path / "part.jsonl"
    part.write_bytes(b'{"uid":"a"}\n{"uid":\n')
    with pytest.raises(MalformedPartError, match="line 2"):
        deflate_part(
            RecordLines(FIELDS).blocks(part, where="w", framing=LINES, error=MalformedPartError),
            tmp_path,
        )


def batch_records(root: Path, stream: str, size: int) -> list[dict]:
    records = []
    paths = files_in_order(root, stream)
    assert paths
    for position, path in enumerate(paths):
        rows = [json.loads(line) for line in one_member(path).splitlines()]
        assert len(rows) <= size
        if position < len(paths) - 1:
            assert len(rows) == size
        records.extend(rows)
    return records


def test_peopleai_batch_files_carry_what_record_messages_carry(upstream, tmp_path):
    record_run = run_tap(peopleai_config(upstream), tmp_path / "record")
    assert record_run.returncode == 0, record_run.stderr[-3000:]
    root = tmp_path / "batches"
    root.mkdir()
    # 25 a file: fragments are 40 records, so file ends fall inside fragments.
    config = peopleai_config(upstream, batch_config=batch_config(root, 25))
    run = run_tap(config, tmp_path / "batch")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "RECORD" not in run.order
    for stream, want in record_run.records.items():
        assert len(want) > 40
        assert batch_records(root, stream, 25) == want
    # A stream's bookmark moves only after the last file of its window is announced.
    last_batch: dict[str, int] = {}
    first_bookmark: dict[str, int] = {}
    batches = iter(run.batch_streams)
    states = iter(run.states)
    for position, kind in enumerate(run.order):
        if kind == "BATCH":
            last_batch[next(batches)] = position
        elif kind == "STATE":
            value = next(states)
            for stream, entry in value.get("bookmarks", {}).items():
                if entry.get("bookmark") and stream not in first_bookmark:
                    first_bookmark[stream] = position
    assert set(last_batch) == set(record_run.records)
    for stream in record_run.records:
        assert first_bookmark[stream] > last_batch[stream]
        assert run.bookmarks(stream) == record_run.bookmarks(stream)


def test_broken_fragment_line_in_batch_mode_is_fetched_again(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        up.faults.corrupt_json_line(times=2)
        root = tmp_path / "batches"
        root.mkdir()
        run = run_tap(peopleai_config(up, batch_config=batch_config(root, 1000)), tmp_path / "r")
        assert run.returncode == 0, run.stderr[-3000:]
        assert "fetching it again" in run.stderr
        assert up.faults.fired["corrupt_json"] == 2
        for stream, kind in (("peopleai_email", "email"), ("peopleai_call", "call")):
            want = up.peopleai.records(activity_type=kind, start=START, end=END, by="activity")
            got = batch_records(root, stream, 1000)
            assert sorted(r["uid"] for r in got) == sorted(r["uid"] for r in want)
