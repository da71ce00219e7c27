"""Hostile People.ai fragments: valid Singer output that keeps the contract, or one worded error.

Each case of issue 21 (and its neighbours) is served by the local upstream as exact bytes
(``up.served``) and met by the tap as a process: stdout must be valid JSON line by line (a
BOM or a raw byte in a RECORD would fail ``json.loads``), and a refusal is one
``tap-activities: error:`` line naming stream, window, job, fragment and line, with no
traceback and no ``unexpected``. Below the process tests, the rules are held directly on
both passes (native and Python), which must give the same bytes or the same error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from activities_upstream import LocalUpstream
from tap_activities.errors import DataFormatError, MalformedPartError
from tap_activities.records.framing import LINES, Framing, decode_lines
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.record_lines import RecordLines
from tap_activities.sources.peopleai.lines.scan import MAX_DEPTH
from tests.kit.must_run import require_native
from tests.kit.tap_process import TapRun, run_tap, select_only
from tests.kit.upstream import fast_upstream_config, peopleai_config

STREAM = "peopleai_email"
DAY = "2024-01-01"
BOM = b"\xef\xbb\xbf"
WIDE = b"18446744073709551616"  # 2**64: past every 64-bit integer
TWICE = "twice in one object"
DEEP = f"nests deeper than {MAX_DEPTH} levels"


def nested(depth: int, inner: bytes = b"") -> bytes:
    """``depth`` arrays, one inside the other."""
    return b"[" * depth + inner + b"]" * depth


@dataclass(frozen=True)
class Hostile:
    """Fragments to serve; the error's words, or the records expected (by uid)."""

    fragments: tuple[bytes, ...]
    needles: tuple[str, ...] = ()
    records: dict[str, dict] | None = None


CASES = {
    # 1. A BOM at the start of a later line was copied into the RECORD.
    "bom-later-line": Hostile(
        (b'{"uid":"a"}\n' + BOM + b'{"uid":"b"}\n',), ("line 2", "byte order mark")
    ),
    "bom-later-fragment-start": Hostile(
        (b'{"uid":"a"}\n', BOM + b'{"uid":"b"}\n'), records={"a": {}, "b": {}}
    ),
    "bom-later-fragment-later-line": Hostile(
        (b'{"uid":"a"}\n', b'{"uid":"b"}\n' + BOM + b'{"uid":"c"}\n'),
        ("fragment 1", "line 2", "byte order mark"),
    ),
    # A BOM at the very start of a fragment (each is a file) is the file's, not data: skipped.
    "bom-at-start": Hostile(
        (BOM + b'{"uid":"a","timestamp":"2024-01-01T00:00:00"}\n',),
        records={"a": {"timestamp": "2024-01-01T00:00:00Z"}},
    ),
    # 2. Keys twice: refused, whichever spelling, wherever the contract reads them.
    "twice-offsetless": Hostile(
        (b'{"uid":"a","timestamp":"2024-01-01T00:00:00","timestamp":"2024-01-01T00:00:01"}\n',),
        ("line 1", "'timestamp'", TWICE),
    ),
    "twice-garbage-last": Hostile(
        (b'{"uid":"a","timestamp":"2024-01-01T00:00:00Z","timestamp":"garbage"}\n',),
        ("'timestamp'", TWICE),
    ),
    "twice-nested-push-time": Hostile(
        (b'{"uid":"a","crm_status":{"push_time":"2024-01-01T00:00:00Z","push_time":"x"}}\n',),
        ("'crm_status.push_time'", TWICE),
    ),
    "twice-escaped": Hostile(
        (
            b'{"uid":"a","timestamp":"2024-01-01T00:00:00","\\u0074imestamp":"2024-01-01T00:00:00"}\n',
        ),
        ("'timestamp'", TWICE),
    ),
    "twice-drift-types": Hostile((b'{"uid":"a","x":1,"x":"s"}\n',), ("'x'", TWICE)),
    "twice-nested-with-nul-key": Hostile(
        (b'{"uid":"a","crm_status":{"push_time":null,"push_time":"x"},"\\u0000":1}\n',),
        ("'crm_status.push_time'", TWICE),
    ),
    # Keys twice deeper than the contract reads pass on as the API wrote them.
    "twice-deep-in-a-value": Hostile(
        (b'{"uid":"a","stats":{"n":1,"n":2}}\n',), records={"a": {"stats": {"n": 2}}}
    ),
    # 3. Deeper than orjson writes.
    "deep-nul-key": Hostile((b'{"uid":"a","\\u0000":' + nested(300) + b"}\n",), ("line 1", DEEP)),
    "deep-with-date-time-fix": Hostile(
        (
            b'{"uid":"a","crm_status":{"push_time":"2024-01-01T00:00:00"},"d":'
            + nested(300)
            + b"}\n",
        ),
        (DEEP,),
    ),
    "deep-wide-integer-in-date-time": Hostile(
        (b'{"uid":"a","n":' + WIDE + b',"timestamp":' + nested(1020) + b"}\n",), (DEEP,)
    ),
    "deepest-allowed": Hostile(
        (b'{"uid":"a","d":' + nested(MAX_DEPTH - 1) + b"}\n",),
        records={"a": {"d": json.loads(nested(MAX_DEPTH - 1))}},
    ),
    # 4. BOM plus NUL key.
    "bom-nul-key-later-line": Hostile(
        (b'{"uid":"a"}\n' + BOM + b'{"uid":"b","\\u0000":1}\n',), ("line 2", "byte order mark")
    ),
    # 5. A non-date-time shows as JSON, the same every run.
    "date-time-array": Hostile(
        (b'{"uid":"a","timestamp":[]}\n',), ("line 1", "'timestamp'", "date-time ([])")
    ),
    "date-time-object": Hostile(
        (b'{"uid":"a","crm_status":{"push_time":{"at":1}}}\n',),
        ("'crm_status.push_time'", 'date-time ({"at": 1})'),
    ),
    # Integers past 64 bits keep their digits, even on the slow way (a date-time fix).
    "wide-integer": Hostile(
        (b'{"uid":"a","n":' + WIDE + b',"m":-' + WIDE + b"}\n",),
        records={"a": {"n": 2**64, "m": -(2**64)}},
    ),
    "wide-integer-with-nested-fix": Hostile(
        (b'{"uid":"a","n":' + WIDE + b',"crm_status":{"push_time":"2024-01-01T00:00:00"}}\n',),
        records={"a": {"n": 2**64, "crm_status": {"push_time": "2024-01-01T00:00:00Z"}}},
    ),
}


def run_hostile(case: Hostile, workdir: Path, *, deselect: str | None = None) -> TapRun:
    """The tap as a process over one window of one stream, served the case's fragments."""
    with LocalUpstream(fast_upstream_config()) as up:
        up.served.peopleai_fragments(list(case.fragments))
        config = peopleai_config(up, start_date=DAY, end_date=DAY, download_workers=1)
        from tap_activities.tap import TapActivities

        catalog = select_only(TapActivities(config=config).catalog_dict, STREAM, deselect)
        return run_tap(config, workdir, catalog=catalog, timeout=180)


def assert_outcome(run: TapRun, case: Hostile) -> None:
    assert "Traceback" not in run.stderr
    assert "unexpected" not in run.stderr.lower()
    if case.records is None:
        assert run.returncode != 0
        assert len(run.cli_errors) == 1, run.stderr[-2000:]
        line = run.cli_errors[0]
        for needle in (STREAM, f"window {DAY}..{DAY}", "job ", *case.needles):
            assert needle in line, line
        # Records of fragments before the refused one may have gone out; the window's
        # bookmark must not, so that the next run exports it again.
        assert "bookmark" not in run.bookmarks(STREAM), run.state
        if len(case.fragments) == 1:
            assert not run.records.get(STREAM), "records of a refused fragment went out"
        return
    assert run.returncode == 0, run.stderr[-2000:]
    emitted = {r["uid"]: r for r in run.records[STREAM]}
    assert emitted.keys() == case.records.keys()
    for uid, fields in case.records.items():
        for name, value in fields.items():
            assert emitted[uid][name] == value, (uid, name)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_fragment_through_the_tap(name, tmp_path):
    assert_outcome(run_hostile(CASES[name], tmp_path), CASES[name])


@pytest.mark.parametrize(
    "name",
    ["bom-later-line", "twice-offsetless", "deep-nul-key", "wide-integer", "bom-at-start"],
)
def test_hostile_fragment_through_the_sdk_record_path(name, tmp_path):
    """A deselected field sends records through the SDK's loop (``decode_lines``)."""
    assert_outcome(run_hostile(CASES[name], tmp_path, deselect="subject"), CASES[name])


# The passes, directly ------------------------------------------------------------------------

FIELDS = ("uid", "at", "crm")
DATE_TIMES = (("at",), ("crm", "push"))
RECORD = Framing(b'{"type":"RECORD","record":', b'}\n{"type":"RECORD","record":', b"}\n")


class Body:
    """A body read in pieces of at most ``size`` bytes (one piece per read)."""

    def __init__(self, content: bytes, size: int = 1 << 30) -> None:
        self.content, self.size, self.at = content, size, 0

    def read(self, size: int) -> bytes:
        piece = self.content[self.at : self.at + min(size, self.size)]
        self.at += len(piece)
        return piece


def verdict(content: bytes, *, native: bool, size: int = 1 << 30) -> tuple:
    """``("ok", bytes, types)`` or ``("error", class, message)`` of one pass."""
    lines = RecordLines(FIELDS, date_times=DATE_TIMES, native=native)
    try:
        blocks = list(lines.blocks(Body(content, size), where="w", framing=RECORD))
    except DataFormatError as exc:
        return "error", type(exc).__name__, str(exc)
    return "ok", b"".join(b[1] for b in blocks), [b[2] for b in blocks]


def both(content: bytes) -> tuple:
    """The Python pass's verdict, checked to be the native pass's too."""
    python = verdict(content, native=False)
    if native_frame() is not None:
        assert verdict(content, native=True) == python
    if python[0] == "ok":
        for line in python[1].splitlines():
            json.loads(line)  # valid JSON, a BOM or a raw byte would fail
    return python


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"at":"2024-01-01T00:00:00","at":"2024-01-01T00:00:01"}\n', "'at' twice"),
        (b'{"at":"2024-01-01T00:00:00Z","at":"garbage"}\n', "'at' twice"),
        (b'{"at":"2024-01-01T00:00:00","\\u0061t":"2024-01-01T00:00:00"}\n', "'at' twice"),
        (b'{"x":1,"x":"s"}\n', "'x' twice"),
        (b'{"\\u0000":1,"\\u0000":2}\n', "'\\x00' twice"),
        (b'{"crm":{"push":null,"push":"x"},"\\u0000":1}\n', "'crm.push' twice"),
        (b'{"crm":{"push":"2024-01-01T00:00:00Z","push":"x"}}\n', "'crm.push' twice"),
        (b'{"n":' + WIDE + b',"at":"2024-01-01T00:00:00","at":null}\n', "'at' twice"),
        (b'{"uid":"a"}\n' + BOM + b'{"uid":"b"}\n', "line 2 starts with a byte order mark"),
        (BOM + b'{"\\u0000":1}\n' + BOM + b"{}\n", "line 2 starts with a byte order mark"),
        (b'{"\\u0000":' + nested(300) + b"}\n", DEEP),
        (b'{"crm":{"push":"2024-01-01T00:00:00"},"d":' + nested(300) + b"}\n", DEEP),
        (b'{"n":' + WIDE + b',"at":' + nested(1020) + b"}\n", DEEP),
        (b'{"d":' + nested(2000) + b"}\n", DEEP),  # past what any parser reads
        (b'{"d":' + nested(MAX_DEPTH) + b"}\n", DEEP),
        (b'{"at":[]}\n', "'at' is not an RFC 3339 date-time ([])"),
        (b'{"at":{"a":[1,"x"]}}\n', 'date-time ({"a": [1, "x"]})'),
        (b'{"crm":{"push":true}}\n', "'crm.push' is not an RFC 3339 date-time (true)"),
        (b'{"at":' + WIDE + b"}\n", f"date-time ({WIDE.decode()})"),
    ],
)
def test_both_passes_refuse_with_the_same_words(content, words):
    kind, error, message = both(content)
    assert kind == "error"
    assert error == "DataFormatError"  # the data, not the transfer: not fetched again
    assert message.startswith("w: line ")
    assert words in message
    assert "0x" not in message  # never a repr with a memory address


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BOM + b'{"uid":"a"}\n{"uid":"b"}\n', [{"uid": "a"}, {"uid": "b"}]),
        (BOM + b'{"\\u0000":1}\n', [{"\x00": 1}]),
        (b'{"n":' + WIDE + b"}\n", [{"n": 2**64}]),
        (b'{"n":-' + WIDE + b',"crm":{"push":"2024-01-01T00:00:00"}}\n', [{"n": -(2**64)}]),
        (b'{"stats":{"n":1,"n":2},"at":"2024-01-01T00:00:00Z"}\n', [{"stats": {"n": 2}}]),
        (b'{"d":' + nested(MAX_DEPTH - 1) + b"}\n", [{"d": json.loads(nested(MAX_DEPTH - 1))}]),
        (b'{"d":"' + b"[" * 400 + b'"}\n', [{"d": "[" * 400}]),  # brackets in a string
        (b'{"d":"\\"' + b"[" * 400 + b'"}\n', [{"d": '"' + "[" * 400}]),
    ],
)
def test_both_passes_pass_on_what_the_rules_allow(content, expected):
    kind, body, _types = both(content)
    assert kind == "ok"
    records = [json.loads(line)["record"] for line in body.splitlines()]
    assert len(records) == len(expected)
    for record, fields in zip(records, expected, strict=True):
        for name, value in fields.items():
            assert record[name] == value


def test_a_wide_integer_keeps_its_digits_byte_for_byte():
    kind, body, types = both(b'{"uid":"a","n":' + WIDE + b"}\n")
    assert kind == "ok"
    assert b'"n":' + WIDE + b"}" in body
    assert types == [{"n": 4}]  # an integer (contract.INTEGER)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_a_bom_split_across_reads_is_still_the_files(size):
    content = BOM + b'{"uid":"a"}\n' + BOM + b'{"uid":"b"}\n'
    python = verdict(content, native=False, size=size)
    assert python[0] == "error"
    assert "line 2 starts with a byte order mark" in python[2]
    assert verdict(BOM + b'{"uid":"a"}\n', native=False, size=size)[0] == "ok"


def test_a_lone_partial_bom_is_not_json(tmp_path):
    kind, error, message = verdict(b"\xef\xbb", native=False)
    assert (kind, error) == ("error", "DataFormatError")
    assert "line 1 is not valid JSON" in message


def test_the_sdk_record_path_decodes_the_same_blocks_exactly():
    """The SDK's record path decodes the fast path's blocks: a wide integer stays exact."""
    content = BOM + b'{"uid":"a","n":' + WIDE + b'}\n{"uid":"b","n":1,"at":"' + b"9" * 20 + b'"}\n'
    blocks = RecordLines(("uid", "n"), native=False).blocks(Body(content), where="w", framing=LINES)
    records = [record for block in blocks for record in decode_lines(block.data)]
    assert records == [{"uid": "a", "n": 2**64}, {"uid": "b", "n": 1, "at": "9" * 20}]
    assert type(records[0]["n"]) is int
    plain = decode_lines(b'{"uid":"c","n":1.5}\n{"uid":"d","n":null}\n')
    assert list(plain) == [{"uid": "c", "n": 1.5}, {"uid": "d", "n": None}]


@pytest.mark.parametrize("native", [False, True])
def test_the_download_pass_refuses_what_simdjson_would_take(native):
    """A BOM mid-fragment or a line too deep is refused for good: fetching again won't help."""
    if native:
        require_native()
    for content in (b'{"a":1}\n' + BOM + b"{}\n", b'{"a":' + nested(300) + b"}\n"):
        lines = RecordLines(("a",), native=native)
        with pytest.raises(DataFormatError, match=r"^w: line 2|^w: line 1") as refused:
            list(lines.blocks(Body(content), where="w", framing=LINES, error=MalformedPartError))
        assert not isinstance(refused.value, MalformedPartError)  # not fetched again
    wide = BOM + b'{"a":' + WIDE + b"}\n"
    blocks = RecordLines(("a",), native=native).blocks(
        Body(wide), where="w", framing=LINES, error=MalformedPartError
    )
    assert b"".join(block.data for block in blocks) == b'{"a":' + WIDE + b"}\n"


# frame(): arguments RecordLines never gets wrong -----------------------------------------------


@pytest.fixture
def frame():
    frame = native_frame()
    if frame is None:
        pytest.skip("the native pass is not built here")  # CI sets TAP_ACTIVITIES_NATIVE=1
    return frame


@pytest.mark.parametrize(
    ("names", "nulls", "pointers", "words"),
    [
        ((b"a",), (b'"a":null',), (b"",), "pointer"),  # issue 21, item 9
        ((b"a",), (b'"a":null',), (b"a/b",), "pointer"),
        ((b"a",), (b'"a":null',), (b"/",), "pointer"),
        ((b"a", b"a"), (b'"a":null', b'"a":null'), (), "twice"),
        ((b"a",), (), (), "differ in length"),
    ],
)
def test_frame_refuses_arguments_that_would_read_out_of_bounds(
    frame, names, nulls, pointers, words
):
    with pytest.raises(ValueError, match=words):
        frame(b'{"a":1}\n', 8, names, nulls, b"", b"\n", b"\n", (), pointers)


@pytest.mark.parametrize("end", [-1, 9, 1 << 40])
def test_frame_refuses_an_end_outside_the_piece(frame, end):
    with pytest.raises(ValueError, match="outside"):
        frame(b'{"a":1}\n', end, (), (), b"", b"\n", b"\n", (), ())


def test_frame_refuses_arguments_of_the_wrong_type(frame):
    with pytest.raises(TypeError):
        frame(b'{"a":1}\n', 8, ("a",), (b'"a":null',), b"", b"\n", b"\n", (), ())
    with pytest.raises(TypeError):
        frame(b'{"a":1}\n', 8, (), (), b"", b"\n", b"\n", (), [b"/a/b"])


def test_frame_declines_a_line_the_python_pass_refuses(frame):
    for line in (
        b'{"a":1,"a":2}\n',
        b'{"a":' + nested(MAX_DEPTH) + b"}\n",
        b'{"b":{"c":1,"c":2}}\n',
        b'{"b":1}\n' + BOM + b'{"b":2}\n',
        b'{"n":' + WIDE + b"}\n",
    ):
        assert frame(line, len(line), (), (), b"", b"\n", b"\n", (), (b"/b/c",)) is None, line
    line = b'{"a":' + nested(MAX_DEPTH - 1) + b"}\n"
    assert frame(line, len(line), (), (), b"", b"\n", b"\n", (), ()) is not None


def test_lines_framing_keeps_the_rules_too():
    python = list(
        RecordLines(FIELDS, date_times=DATE_TIMES, native=False).blocks(
            Body(b'{"uid":"a","n":' + WIDE + b"}\n"), where="w", framing=LINES
        )
    )
    assert orjson.loads(python[0][1].replace(WIDE, b"1"))["n"] == 1
