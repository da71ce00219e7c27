"""The native fragment pass: the same bytes as the Python pass, or it declines the piece.

The native pass (``tap_activities/sources/peopleai/lines/lines.cpp``) may only ever be a
faster way to the Python pass's output. These tests hold it to that: piece by piece on
tricky inputs, on generated exports that mix pieces it frames with pieces it declines, and
through the tap.
"""

from __future__ import annotations

import json
import random
import sys
import threading

import orjson
import pytest

from tap_activities.errors import DataFormatError
from tap_activities.records.framing import LINES, Framing
from tap_activities.sources.peopleai.lines.record_lines import RecordLines, iter_line_pieces
from tests.kit.must_run import require_native
from tests.kit.tap_process import HAS_OFFSET

FIELDS = ("uid", "subject", "stats", "tags")
RECORD = Framing(b'{"type":"RECORD","record":', b'}\n{"type":"RECORD","record":', b"}\n")

native = require_native()

NAMES = tuple(f.encode() for f in FIELDS)
NULLS = tuple(orjson.dumps(f) + b":null" for f in FIELDS)


def frame(data, end, names, nulls, head, sep, tail, date_times=(), pointers=()):
    """The native pass, by default with no date-time fields to check."""
    return native(data, end, names, nulls, head, sep, tail, date_times, pointers)


def python_pass(content: bytes, framing: Framing = LINES) -> list[tuple[int, bytes]]:
    """What the pure-Python pass yields for ``content`` read as one piece."""
    return list(
        RecordLines(FIELDS, native=False).blocks(Chunks(content), where="w", framing=framing)
    )


class Chunks:
    """A body that arrives in reads of at most ``size`` bytes: one piece per read."""

    def __init__(self, content: bytes, size: int = 1 << 30) -> None:
        self.content, self.size, self.at = content, size, 0

    def read(self, size: int) -> bytes:
        piece = self.content[self.at : self.at + min(size, self.size)]
        self.at += len(piece)
        return piece


@pytest.mark.parametrize("framing", [LINES, RECORD], ids=["lines", "record"])
@pytest.mark.parametrize(
    "content",
    [
        # As is: every field present, spellings a decode-and-dump would change.
        b'{"uid":"a","subject":"caf\\u00e9 \\/","stats":{"n":1.0E2},"tags":[],"x":1}\n',
        # Null-filled, in the field order of the schema, whatever the layout.
        b'{"subject":"s"}\n{}\n{ }\n{"tags":["t"],"uid":"u"}\n{"uid":"v"}\n',
        # Whitespace around the object, a CRLF line end, a key spelled with an escape.
        b'  {"uid":"w"}  \r\n\t{"u\\u0069d":"x","stats":null}\n',
        # Nested objects holding schema names, unicode.
        b'{"uid":"1","tags":"2"}\n{"stats":{"uid":"no","subject":"no"},"subject":"\xe2\x9c\x85"}\n',
        # Layouts changing from record to record and back.
        b"".join(b'{"uid":"%d"%s}\n' % (i, b',"tags":[]' * (i % 3 == 0)) for i in range(50)),
    ],
)
def test_clean_pieces_are_framed_natively_with_the_python_passes_bytes(content, framing):
    framed = frame(content, len(content), NAMES, NULLS, framing.head, framing.sep, framing.tail)
    assert framed is not None, "the native pass declined a clean piece"
    assert [framed] == python_pass(content, framing)


@pytest.mark.parametrize(
    "content",
    [
        b'{"uid":"a"}\n\n{"uid":"b"}\n',  # blank line
        b'{"uid":"a"}\n   \n',  # a line of spaces
        b'{"uid":"a"} {"uid":"b"}\n',  # two objects on one line
        b'{"uid":"a"} 5\n',  # an object and a number on one line
        b'{"uid":"a"}\n[1, 2]\n',  # not an object
        b'{"uid":"a"}\n"text"\n',
        b'{"uid":"a",}\n',  # invalid JSON
        b'{"uid":"\xff"}\n',  # not UTF-8
        b'{"uid":"a"\n}\n',  # one object over two lines
        b'{"n":123456789012345678901234567890}\n',  # beyond simdjson: orjson decides
        b'{"uid":"' + b"a" * (1 << 20) + b'"}\n',  # larger than the native batch
        b'{"uid":"a"}\n' * 800_000,  # a piece over 8 MiB: its buffers would stay that large
        # A later line's byte order mark opening a piece: simdjson 3.4 and later skip it.
        b'\xef\xbb\xbf{"uid":"a"}\n{"uid":"b"}\n',
        b'\xef\xbb\xbf{"uid":"a","x":1}\n',
        b'{"uid":"a"}\n\xef\xbb\xbf{"uid":"b"}\n',  # and a line's, further on
    ],
)
def test_pieces_it_cannot_frame_exactly_are_declined(content):
    assert frame(content, len(content), NAMES, NULLS, b"", b"\n", b"\n") is None


def test_only_the_lines_before_end_are_framed():
    content = b'{"uid":"a"}\n{"uid":"b"}\n{"uid":"partial'
    end = content.rindex(b"\n") + 1
    count, data, unknown = frame(content, end, NAMES, NULLS, b"", b"\n", b"\n")
    assert count == 2
    assert unknown is None
    assert [json.loads(line)["uid"] for line in data.splitlines()] == ["a", "b"]
    with pytest.raises(ValueError, match="end is outside"):
        frame(content, len(content) + 1, NAMES, NULLS, b"", b"\n", b"\n")


def generated_export(rng: random.Random, records: int, *, faults: bool) -> bytes:
    """JSON lines in many layouts; with ``faults``, blank and out-of-range lines too."""
    lines = []
    for i in range(records):
        record = {"uid": f"u{i}", "subject": rng.choice(["s", "ü ✅", "\\", None]), "tags": []}
        for name in ("subject", "tags", "uid", "stats"):
            if rng.random() < 0.2:
                record.pop(name, None)
        if rng.random() < 0.1:
            record["stats"] = {"uid": 1, "n": [1, {"m": None}]}
        if rng.random() < 0.05:
            record["x_future"] = "unknown to the schema"
        line = orjson.dumps(dict(rng.sample(sorted(record.items()), len(record))))
        if rng.random() < 0.05:
            line = b" " + line.replace(b",", b", ") + b"\r"
        lines.append(line)
        if faults and rng.random() < 0.01:
            lines.append(rng.choice([b"", b"  ", b'{"n":99999999999999999999999}']))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("seed", range(6))
def test_both_passes_agree_on_generated_exports_read_in_pieces(seed):
    rng = random.Random(seed)
    content = generated_export(rng, 3000, faults=seed % 2 == 1)
    read = rng.choice([997, 4096, 65536])
    pieces = list(iter_line_pieces(Chunks(content, read)))
    framed = sum(frame(p, end, NAMES, NULLS, b"", b"\n", b"\n") is not None for p, end in pieces)
    assert framed == len(pieces) if seed % 2 == 0 else 0 < framed < len(pieces)
    for framing in (LINES, RECORD):
        # Pieces the native pass frames and pieces it declines alternate within one part.
        both = [
            list(
                RecordLines(FIELDS, native=native).blocks(
                    Chunks(content, read), where="w", framing=framing
                )
            )
            for native in (False, True)
        ]
        assert both[0] == both[1]
        assert sum(block[0] for block in both[0]) == sum(
            1 for line in content.splitlines() if line.strip()
        )


def test_a_bad_line_after_natively_framed_pieces_is_reported_at_its_line():
    content = generated_export(random.Random(7), 2000, faults=False)
    content += b'{"uid":"broken",}\n'
    line = content.count(b"\n")
    messages = []
    for native in (False, True):
        with pytest.raises(DataFormatError) as failed:
            list(
                RecordLines(FIELDS, native=native).blocks(
                    Chunks(content, 4096), where="w", framing=LINES
                )
            )
        messages.append(str(failed.value))
    assert messages[0] == messages[1]
    assert f"line {line} is not valid JSON" in messages[1]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_thread_frees_its_buffers_when_it_ends():
    # In threads mode each window's downloads run in new threads; what one thread's
    # native pass keeps (a parser for a 1 MiB piece, ~14 MB) must go with the thread.
    content = generated_export(random.Random(3), 30000, faults=False)
    end = content.rindex(b"\n", 0, 1 << 20) + 1

    def one_thread() -> None:
        worker = threading.Thread(
            target=frame, args=(content, end, NAMES, NULLS, b"", b"\n", b"\n")
        )
        worker.start()
        worker.join()

    one_thread()
    before = rss_mb()
    for _ in range(20):
        one_thread()
    grown = rss_mb() - before
    assert grown < 40, f"native buffers outlive their threads: {grown:.0f} MB more after 20"


@pytest.mark.parametrize(
    "line",
    [
        b'{"n":1e400}',  # a double out of range
        b'{"n":1E-400}',
        b'{"n":-0}',
        b'{"n":18446744073709551615}',  # the largest unsigned 64-bit integer
        b'{"n":18446744073709551616}',  # one more: orjson decides
        b'{"s":"\\ud800"}',  # a lone surrogate escape
        b'{"s":"\\ud83d\\ude00"}',
        b'{"s":"\xed\xa0\x80"}',  # a surrogate in UTF-8
        b'{"n":01}',
        b"\xef\xbb\xbf" + b'{"a":1}',  # a byte order mark
        b'{"a":1}\x00',
        b'{"a":' + b"[" * 1100 + b"]" * 1100 + b"}",  # deeper than the parsers go
        b'{"\\u0000":1}',
    ],
)
def test_both_passes_give_the_same_verdict_on_edge_lines(line):
    verdicts = []
    for native in (False, True):
        try:
            verdicts.append(
                list(
                    RecordLines(FIELDS, native=native).blocks(
                        Chunks(line + b"\n"), where="w", framing=LINES
                    )
                )
            )
        except DataFormatError as exc:
            verdicts.append(str(exc))
    assert verdicts[0] == verdicts[1]


# The data contract on both passes: date-times given their offset, unknown keys typed.
STAMPED = ("uid", "at", "crm")
DATE_TIMES = (("at",), ("crm", "push"))


def both_passes(content: bytes, read: int | None = None) -> list:
    """What each pass makes of ``content`` (blocks, or the error's text), Python first."""
    verdicts = []
    for native in (False, True):
        try:
            verdicts.append(
                list(
                    RecordLines(STAMPED, date_times=DATE_TIMES, native=native).blocks(
                        Chunks(content, read or len(content) + 1), where="w", framing=LINES
                    )
                )
            )
        except DataFormatError as exc:
            verdicts.append(str(exc))
    return verdicts


@pytest.mark.parametrize(
    "content",
    [
        # Offset-less, fractional, spaced, null, already zoned: the native pass decides.
        b'{"uid":"a","at":"2024-02-24T05:39:24"}\n{"uid":"b","at":"2024-02-24T05:39:24.5"}\n',
        b'{"uid":"a", "at" :  "2024-02-24T05:39:24" ,"x":1}\n{"uid":"b","at":null}\n',
        b'{"at":"2024-02-24T05:39:24+01:00","uid":"c","crm":{"push":"2024-01-01T00:00:00Z"}}\n',
        # A nested value with the same key and value as the top-level one.
        b'{"at":"2024-02-24T05:39:24","y":{"at":"2024-02-24T05:39:24"}}\n',
        # Keys the schema does not list, of every JSON type.
        b'{"uid":"d","n":null,"b":true,"i":1,"f":1.5,"s":"s","o":{},"l":[]}\n{"uid":"e","i":2.5}\n',
    ],
)
def test_contract_pieces_are_framed_natively_with_the_python_passes_bytes(content):
    python, native_blocks = both_passes(content)
    names = tuple(f.encode() for f in STAMPED)
    nulls = tuple(orjson.dumps(f) + b":null" for f in STAMPED)
    framed = frame(
        content, len(content), names, nulls, b"", b"\n", b"\n", (b"at",), (b"/crm/push",)
    )
    assert framed is not None, "the native pass declined a piece it decides"
    assert [framed] == python == native_blocks
    for line in framed[1].splitlines():
        record = orjson.loads(line)
        assert record["at"] is None or HAS_OFFSET.fullmatch(record["at"]), record["at"]
        push = (record.get("crm") or {}).get("push")
        assert push is None or HAS_OFFSET.fullmatch(push), push


def test_unknown_key_types_are_reported_per_piece():
    content = b'{"uid":"d","n":null,"b":true,"i":1,"f":1.5,"s":"s","o":{},"l":[]}\n{"i":2.5}\n'
    [(_count, _data, unknown)] = both_passes(content)[1]
    assert unknown == {"n": 1, "b": 2, "i": 4 | 8, "f": 8, "s": 16, "o": 32, "l": 64}


@pytest.mark.parametrize(
    ("content", "path", "fixed"),
    [
        # A leap second: Python decides (and keeps it as written).
        (b'{"uid":"a","at":"2016-12-31T23:59:60Z"}\n', ("at",), "2016-12-31T23:59:60Z"),
        # A nested value to fix.
        (
            b'{"uid":"a","crm":{"push":"2024-01-01T00:00:00"}}\n',
            ("crm", "push"),
            "2024-01-01T00:00:00Z",
        ),
    ],
)
def test_date_times_the_native_pass_does_not_decide_go_to_python(content, path, fixed):
    names = tuple(f.encode() for f in STAMPED)
    nulls = tuple(orjson.dumps(f) + b":null" for f in STAMPED)
    assert (
        frame(content, len(content), names, nulls, b"", b"\n", b"\n", (b"at",), (b"/crm/push",))
        is None
    )
    python, native_blocks = both_passes(content)
    assert python == native_blocks
    value = orjson.loads(python[0][1].splitlines()[0])
    for key in path:
        value = value[key]
    assert value == fixed


def test_a_date_time_key_spelled_with_escapes_is_decided_by_the_native_pass():
    """A key holding a backslash is unescaped before it is compared; its value gets its Z."""
    content = b'{"uid":"a","\\"at":"2024-01-01T00:00:00","\\u0061t":"2024-01-01T00:00:00"}\n'
    names = tuple(f.encode() for f in STAMPED)
    nulls = tuple(orjson.dumps(f) + b":null" for f in STAMPED)
    framed = frame(content, len(content), names, nulls, b"", b"\n", b"\n", (b"at",), ())
    assert framed is not None
    assert framed[1] == content.replace(b'00:00"}', b'00:00Z","crm":null}')
    assert framed[2] == {'"at': 16}
    assert both_passes(content)[0] == both_passes(content)[1]


@pytest.mark.parametrize(
    "content",
    [
        b'{"uid":"a","at":"2024-02-30T00:00:00"}\n',
        b'{"uid":"a","at":"soon"}\n',
        '{"uid":"a","at":"2024-02-24T05:39:2\u0661Z"}\n'.encode(),
        b'{"uid":"a","at":1706745600}\n',
        b'{"uid":"a","crm":{"push":"soon"}}\n',
    ],
)
def test_a_date_time_field_without_a_date_time_is_one_error_with_its_line(content):
    content = b'{"uid":"ok","at":"2024-01-01T00:00:00Z"}\n' + content
    python, native_verdict = both_passes(content)
    assert python == native_verdict
    assert python.startswith("w: line 2 field ")
    assert "is not an RFC 3339 date-time" in python


@pytest.mark.parametrize("seed", range(4))
def test_both_passes_agree_on_generated_exports_with_stamps_and_new_fields(seed, monkeypatch):
    rng = random.Random(seed)
    lines = []
    for i in range(3000):
        record = {
            "uid": f"u{i}",
            "at": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:00:00",
        }
        if rng.random() < 0.8:
            record["at"] += rng.choice(["Z", "+01:00", ".25Z"])
        if rng.random() < 0.1:
            record["at"] = None
        if rng.random() < 0.3:
            record["score"] = rng.choice([1, 2.5, None, "n/a"])
        if rng.random() < 0.2:
            record["crm"] = {"push": rng.choice([None, "2024-01-01T00:00:00Z"])}
        line = orjson.dumps(dict(rng.sample(sorted(record.items()), len(record))))
        lines.append(line.replace(b'":', b'": ') if rng.random() < 0.05 else line)
    content = b"\n".join(lines) + b"\n"
    framed = []

    def counted(*args):
        result = native(*args)
        framed.append(result is not None)
        return result

    monkeypatch.setattr(
        "tap_activities.sources.peopleai.lines.record_lines.native_frame", lambda: counted
    )
    python, native_blocks = both_passes(content, rng.choice([997, 4096, 65536]))
    assert python == native_blocks
    assert sum(b[0] for b in python) == 3000
    assert any(framed), "the native pass framed no piece: the comparison proved nothing"
