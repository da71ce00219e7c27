"""JSON Lines: records reused byte for byte, null-filled, and refused as the parser would."""

from __future__ import annotations

import gzip
import json

import pytest

from tap_activities.errors import DataFormatError
from tap_activities.records.framing import LINES, Block, Framing
from tap_activities.singer.batch import BatchFileWriter
from tap_activities.sources.peopleai.lines.record_lines import RecordLines, iter_line_pieces
from tests.kit.must_run import require_native
from tests.kit.tap_process import batch_config

FIELDS = ("uid", "subject", "stats")


@pytest.fixture(params=["python", "native"])
def native(request) -> bool:
    """Each RecordLines test runs on the Python pass and on the native one."""
    if request.param == "native":
        require_native()
    return request.param == "native"


def bodies(tmp_path, content: bytes, native: bool) -> list[bytes]:
    path = tmp_path / "part.jsonl"
    path.write_bytes(content)
    lines = RecordLines(FIELDS, native=native)
    out = []
    for count, data, _unknown in lines.blocks(path, where="w", framing=LINES):
        assert data.endswith(b"\n")
        block = data.split(b"\n")[:-1]
        assert len(block) == count, "a block's count is not its number of records"
        out.extend(block)
    return out


def test_complete_records_go_out_byte_for_byte(tmp_path, native):
    # Spellings a decode-and-dump would change: they must reach the target as written.
    line = b'{"uid":"a","subject":"caf\\u00e9 \\/ 1","stats":{"n":1.0E2},"x_new":[1,2]}'
    assert bodies(tmp_path, line + b"\n", native) == [line]


def test_missing_schema_fields_are_added_as_null(tmp_path, native):
    out = bodies(tmp_path, b'{"subject":"s"}\n{}\n  {"uid":"u"}  \r\n{"uid":"v"}\n', native)
    assert [json.loads(b) for b in out] == [
        {"subject": "s", "uid": None, "stats": None},
        {"uid": None, "subject": None, "stats": None},
        {"uid": "u", "subject": None, "stats": None},
        {"uid": "v", "subject": None, "stats": None},
    ]


def test_blank_lines_are_skipped_and_a_last_line_needs_no_newline(tmp_path, native):
    out = bodies(tmp_path, b'{"uid":"a","subject":null,"stats":null}\n\n   \n{"uid":"b"}', native)
    assert [json.loads(b)["uid"] for b in out] == ["a", "b"]


def test_lines_the_fast_parser_refuses_are_decided_by_orjson(tmp_path, native):
    # simdjson stops at 64-bit integers; orjson reads them (as before this fast path).
    out = bodies(tmp_path, b'{"uid":"a","stats":{"n":123456789012345678901234567890}}\n', native)
    assert json.loads(out[0])["stats"]["n"] == pytest.approx(1.2345678901234568e29)


@pytest.mark.parametrize(
    "bad",
    [
        b'{"uid":"\xff"}',  # not UTF-8
        b'{"uid":"a"} x',
        b"[1, 2]",
        b'"text"',
        b'{"uid":NaN}',
        b'{"uid":"a",}',
    ],
)
def test_invalid_lines_fail_with_the_python_pass_s_error(tmp_path, bad, native):
    path = tmp_path / "part.jsonl"
    path.write_bytes(b'{"uid":"ok"}\n' + bad + b"\n")
    with pytest.raises(DataFormatError) as slow:
        list(RecordLines(FIELDS, native=False).blocks(path, where="w", framing=LINES))
    with pytest.raises(DataFormatError) as fast:
        list(RecordLines(FIELDS, native=native).blocks(path, where="w", framing=LINES))
    assert str(fast.value) == str(slow.value)
    assert "line 2" in str(fast.value)


def iter_line_blocks(path, *, read_bytes):
    """``(number of the first line, lines)`` of each piece iter_line_pieces hands out."""
    first = 1
    for piece, end in iter_line_pieces(path, read_bytes=read_bytes):
        lines = piece[:end].split(b"\n")[:-1]
        yield first, lines
        first += len(lines)


def test_line_blocks_keep_line_numbers_across_reads(tmp_path):
    path = tmp_path / "part.jsonl"
    path.write_bytes(b"".join(b'{"n":%d}\n' % i for i in range(1000)))
    seen = []
    for first, lines in iter_line_blocks(path, read_bytes=37):
        assert first == len(seen) + 1
        seen.extend(lines)
    assert seen == [b'{"n":%d}' % i for i in range(1000)]


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_batch_files_hold_exactly_batch_size_lines(tmp_path, compression):
    from singer_sdk.helpers._batch import BatchConfig

    config = BatchConfig.from_dict(
        batch_config(tmp_path, size=7, prefix="t-", compression=compression)
    )
    blocks = [
        Block(5, LINES.join([b'{"n":%d}' % (10 * b + i) for i in range(5)]), None) for b in range(4)
    ]
    manifests = list(BatchFileWriter(config, "tap", "s").line_manifests(iter(blocks)))
    counts, numbers = [], []
    for _encoding, (url,) in manifests:
        opener = gzip.open if url.endswith(".gz") else open
        with opener(url.removeprefix("file://"), "rb") as lines:
            rows = [json.loads(line) for line in lines]
        counts.append(len(rows))
        numbers.extend(r["n"] for r in rows)
    assert counts == [7, 7, 6]
    assert numbers == [10 * b + i for b in range(4) for i in range(5)]


def test_record_framing_wraps_every_record_in_its_envelope(tmp_path, native):
    path = tmp_path / "part.jsonl"
    path.write_bytes(b'{"uid":"a"}\n\n{"uid":"b","subject":"s","stats":null}\n')
    framing = Framing(b"<", b">\n<", b">\n")
    [(count, data, _unknown)] = list(
        RecordLines(FIELDS, native=native).blocks(path, where="w", framing=framing)
    )
    assert count == 2
    assert data == (
        b'<{"uid":"a","subject":null,"stats":null}>\n<{"uid":"b","subject":"s","stats":null}>\n'
    )
