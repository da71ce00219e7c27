"""The Python pass's shortcuts, and where they must not mislead.

**A piece looked at once.** Looking at every line for a byte order mark and counting its
brackets cost the Python pass a sixth of its time, so it now looks at each piece once
(``scan.screen_piece``): no byte 0xEF anywhere means no line starts with a BOM, and no line
with more than ``MAX_DEPTH`` opening brackets means none nests too deep; the line count
comes from the same look. These pieces hide one refused line among many shallow ones, or
look suspect without being so: every line must still get the verdict, and the line
number, it gets alone, from both passes.

**Date-times settled by one match** (``contract.NORMAL_DATE_TIME``): a value it takes must
be one the whole check leaves as it is.

**Top-level date-times found by searching** (``stamp_search``), proven per piece: a piece
where the search could be misled (a key's spelling also inside a string, a nested copy, a
key twice on a nested path, a ``\\u``) must come out as the careful way makes it, the
first refused line first.
"""

from __future__ import annotations

import calendar
import itertools
import json

import pytest

from tap_activities.records.contract import NORMAL_DATE_TIME, normal_date_time
from tap_activities.sources.peopleai.lines.scan import MAX_DEPTH
from tap_activities.sources.peopleai.lines.stamp_search import SETTLED
from tests.kit.fuzzkit import FIELDS, check_lines, outcome
from tests.kit.singer_contract import FORMATS

BOM = b"\xef\xbb\xbf"
DEEP = f"nests deeper than {MAX_DEPTH} levels"
SHALLOW = (
    b'{"uid":"u","timestamp":"2024-01-01T00:00:00Z","crm_status":{"push_time":null},'
    b'"tags":[[1],{"a":[]}]}\n'
)
"""A line with five opening brackets: 100 of them hold more than MAX_DEPTH together."""
SIZES = [1 << 20, 4096, 97]
"""One piece for the whole body, a few pieces, and many (97 bytes: lines cut in two)."""


def nested(depth: int) -> bytes:
    """``depth`` arrays, one inside the other."""
    return b"[" * depth + b"]" * depth


def both(content: bytes, size: int) -> tuple:
    """The Python pass's outcome, checked (``fuzzkit``) to be the native pass's too."""
    check_lines(content, size)
    return outcome(content, native=False, size=size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (SHALLOW * 500 + b'{"d":' + nested(MAX_DEPTH) + b"}\n" + SHALLOW * 10, "line 501 " + DEEP),
        (b'{"d":' + nested(MAX_DEPTH) + b"}\n" + SHALLOW * 500, "line 1 " + DEEP),
        (SHALLOW * 300 + BOM + SHALLOW + SHALLOW * 5, "line 301 starts with a byte order mark"),
        # A legitimate 0xEF (U+FEFF, U+FF0C inside strings) before the BOM: the piece
        # holds one, and the lines are looked at one by one.
        (
            b'{"uid":"\xef\xbb\xbf\xef\xbc\x8c"}\n' * 50 + BOM + SHALLOW,
            "line 51 starts with a byte order mark",
        ),
        (SHALLOW * 200 + b"{not json}\n" + SHALLOW, "line 201 is not valid JSON"),
        (
            SHALLOW * 200 + b'{"timestamp":"x"}\n',
            "line 201 field 'timestamp' is not an RFC 3339 date-time",
        ),
    ],
)
def test_one_refused_line_among_many_is_found_and_numbered(content, words, size):
    kind, error, message = both(content, size)
    assert (kind, error) == ("error", "DataFormatError")
    assert message.startswith("w: " + words), message


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "content",
    [
        SHALLOW * 600,  # far more brackets than MAX_DEPTH in the piece, few in any line
        SHALLOW * 100 + b'{"d":' + nested(MAX_DEPTH - 1) + b"}\n" + SHALLOW * 100,
        SHALLOW * 100 + b'{"d":"' + b"[" * 400 + b'"}\n' + SHALLOW * 100,  # in a string
        b'{"uid":"\xef\xbb\xbf \xef\xbc\x8c"}\n' * 100 + SHALLOW * 100,  # 0xEF, no BOM
    ],
)
def test_lines_that_only_look_suspect_pass_on_as_written(content, size):
    kind, body, _types = both(content, size)
    assert kind == "ok"
    written = content.splitlines()
    framed = body.splitlines()
    assert len(framed) == len(written)
    for line, record in zip(written, framed, strict=True):
        assert {**dict.fromkeys(FIELDS), **json.loads(line)} == json.loads(record)["record"]


def test_a_date_time_settled_by_one_match_is_one_the_whole_check_keeps():
    """Every day of two years' Februaries and of the 30- and 31-day months, in every form."""
    checker = FORMATS.checkers["date-time"][0]  # RFC 3339 as jsonschema checks it: not ours
    settled = 0
    for year, month, day, time, zone in itertools.product(
        ("2023", "2024", "1900", "2000"),
        ("01", "02", "04", "12", "13", "00"),
        range(32),
        ("00:00:00", "23:59:60", "05:39:24.5", "24:00:00", "0\u0661:00:00", "05:39"),
        ("Z", "z", "+05:30", "-00:00", "", "+24:00", "+5:30", "Zz"),
    ):
        for t in ("T", "t", " "):
            value = f"{year}-{month}-{day:02d}{t}{time}{zone}"
            if NORMAL_DATE_TIME.fullmatch(value) is None:
                continue
            settled += 1
            assert zone, value
            # RFC 3339 allows a leap second (second 60), which this checker refuses.
            assert checker(value.replace(":60", ":59")), value
            assert 1 <= day <= calendar.monthrange(int(year), int(month))[1], value
            assert normal_date_time(value) is value, value
    assert settled > 1000  # the shortcut is taken, or this test tests nothing


def test_a_date_time_the_search_settles_is_what_the_whole_check_makes_of_it():
    """Every day of four years' months, in every form: the search's verdict is the check's."""
    settled = 0
    for year, month, day, time, zone in itertools.product(
        ("2023", "2024", "1900", "2000"),
        ("01", "02", "04", "06", "09", "11", "12", "13", "00"),
        range(33),
        ("00:00:00", "23:59:60", "05:39:24.5", "24:00:00", "0\u0661:00:00", "05:39", "1:2:3"),
        ("Z", "z", "+05:30", "-00:00", "", "+24:00", "+5:30", "Zz", "."),
    ):
        for t in ("T", "t", " "):
            value = f"{year}-{month}-{day:02d}{t}{time}{zone}"
            found = SETTLED.fullmatch(value.encode())
            if found is None:
                continue
            settled += 1
            assert normal_date_time(value) == value + ("Z" if found[1] == b"" else ""), value
    assert settled > 5000


STAMPED = b'{"uid":"u","timestamp":"2024-01-01T00:00:00","ingest_timestamp":null}\n'
"""A line the search frames: every top-level date-time there, one to fix."""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "odd",
    [
        # The key's spelling inside a string, and as a key holding a quote.
        b'{"uid":"a","timestamp":"2024-01-01T00:00:00","ingest_timestamp":null,'
        b'"tags":["\\"timestamp\\":\\"2024-01-01T00:00:01\\""]}\n',
        b'{"uid":"a","\\"timestamp":"2024-01-01T00:00:09","timestamp":"2024-01-01T00:00:00",'
        b'"ingest_timestamp":null}\n',
        b'{"uid":"a","tags":["timestamp"],"timestamp":"2024-01-01T00:00:00","ingest_timestamp":null}\n',
        # Between two date-times: a nested copy of the second, a key holding it and a quote.
        b'{"uid":"a","timestamp":"2024-01-01T00:00:00","x":{"ingest_timestamp":"2024-01-01T00:00:03"},'
        b'"ingest_timestamp":"2024-01-01T00:00:00"}\n',
        b'{"uid":"a","timestamp":"2024-01-01T00:00:00","\\"ingest_timestamp":"2024-01-01T00:00:03",'
        b'"ingest_timestamp":"2024-01-01T00:00:00"}\n',
        # A nested copy, before the top-level key.
        b'{"uid":"a","stats":{"timestamp":"2024-01-01T00:00:05"},"timestamp":"2024-01-01T00:00:00",'
        b'"ingest_timestamp":"2024-01-01T00:00:00Z"}\n',
        # An escape elsewhere in the piece, and in the nested date-time's key.
        b'{"uid":"\\u0061","timestamp":"2024-01-01T00:00:00","ingest_timestamp":null}\n',
        b'{"uid":"a","timestamp":"2024-01-01T00:00:00","ingest_timestamp":null,'
        b'"crm_status":{"push\\u005ftime":"2024-01-01T00:00:00"}}\n',
        # A nested date-time without an offset, and one of another shape.
        b'{"uid":"a","timestamp":null,"ingest_timestamp":null,"crm_status":{"push_time":"2024-01-01T00:00:00"}}\n',
        b'{"uid":"a","timestamp":null,"ingest_timestamp":null,"crm_status":{"push_time":"2016-12-31T23:59:60Z"}}\n',
    ],
)
def test_a_line_that_could_mislead_the_search_comes_out_as_the_careful_way_makes_it(odd, size):
    content = STAMPED * 150 + odd + STAMPED * 150
    kind, body, _types = both(content, size)
    assert kind == "ok"
    records = [json.loads(line)["record"] for line in body.splitlines()]
    assert records[0]["timestamp"] == records[-1]["timestamp"] == "2024-01-01T00:00:00Z"
    record = records[150]
    expected = {**dict.fromkeys(FIELDS), **json.loads(odd)}
    for path in (("timestamp",), ("ingest_timestamp",), ("crm_status", "push_time")):
        node, fixed = expected, normal_date_time
        for name in path[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(path[-1]), str):
            node[path[-1]] = fixed(node[path[-1]])
    assert record == expected


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("odd", "words"),
    [
        (
            b'{"uid":"a","timestamp":null,"ingest_timestamp":null,'
            b'"crm_status":{"push_time":null,"push_time":null}}\n',
            "line 151 holds the key 'crm_status.push_time' twice",
        ),
        (
            b'{"uid":"a","timestamp":"garbage","ingest_timestamp":null,'
            b'"x":{"timestamp":"2024-01-01T00:00:00"}}\n',
            "line 151 field 'timestamp' is not an RFC 3339 date-time",
        ),
    ],
)
def test_a_line_the_search_could_let_through_is_refused_first(odd, words, size):
    # A later line refused on its own must not hide the first refusal.
    content = STAMPED * 150 + odd + STAMPED * 10 + b"{not json}\n" + STAMPED
    kind, error, message = both(content, size)
    assert (kind, error) == ("error", "DataFormatError")
    assert message.startswith("w: " + words), message
