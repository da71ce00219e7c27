"""A key is what it decodes to, however it is spelled: in both fragment passes.

JSON lets every character of a key or a string be written as an escape (``\\u0074``,
``\\/``, a surrogate pair for a character outside the BMP), and a key may hold a quote
(``"\\"timestamp"``). Every question the passes ask of a key (a date-time field? a schema
field? a key twice? a field the schema does not list?) must get the answer its decoded
value gets: the regression lines below once came out with date-times lacking an offset,
exit 0. The property test re-spells generated records at random and wants exactly the
records (or the refusal) the plain spelling gives, from both passes.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_activities.errors import DataFormatError
from tap_activities.records.framing import LINES
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.record_lines import RecordLines
from tests.kit.fuzzkit import DATE_TIMES, FIELDS, _Body
from tests.kit.json_spellings import plain, records, spelled, written
from tests.kit.must_run import IN_CI, require_native

STAMP = "2026-08-21T10:00:00"


def passes() -> list[bool]:
    """The passes to run: the Python one, and the native one where it is built (CI: must)."""
    if IN_CI:
        require_native()
    return [False, True] if native_frame() is not None else [False]


def outcome(
    content: bytes,
    native: bool,
    fields: tuple[str, ...] = FIELDS,
    date_times: tuple[tuple[str, ...], ...] = DATE_TIMES,
    size: int = 1 << 20,
) -> tuple:
    """``("ok", records as pairs, unknown types)`` or ``("error", message)`` of one pass."""
    lines = RecordLines(fields, date_times=date_times, native=native)
    try:
        blocks = list(lines.blocks(_Body(content, size), where="w", framing=LINES))
    except DataFormatError as exc:
        return "error", str(exc)
    records = [
        json.loads(text, object_pairs_hook=list)
        for _count, data, _types in blocks
        for text in data.split(b"\n")[:-1]
    ]
    types: dict[str, int] = {}
    for _count, _data, unknown in blocks:
        for name, bits in (unknown or {}).items():
            types[name] = types.get(name, 0) | bits
    return "ok", records, types


def both(content: bytes, **kwargs: Any) -> tuple:
    """The Python pass's outcome, once it is checked to be the native pass's too."""
    found = [outcome(content, native, **kwargs) for native in passes()]
    assert all(one == found[0] for one in found), f"the passes differ on {content!r}: {found}"
    return found[0]


def record(content: bytes, **kwargs: Any) -> dict[str, Any]:
    """The one record both passes make of ``content``, as a dict."""
    verdict = both(content, **kwargs)
    assert verdict[0] == "ok", verdict
    (pairs,) = verdict[1]
    return dict(pairs)


def test_the_reported_line_gets_its_offset_where_the_key_decodes_to_timestamp():
    line = (
        rb'{"uid":"h-1","type":"email","\u0074imestamp":"2026-08-21T10:00:00",'
        rb'"\"timestamp":"2026-08-21T10:00:00"}' + b"\n"
    )
    out = record(line)
    assert out["timestamp"] == STAMP + "Z"
    assert out['"timestamp'] == STAMP  # a field the schema does not list: as it came
    verdict = both(line)
    assert verdict[2] == {"type": 16, '"timestamp': 16}


@pytest.mark.parametrize(
    "key",
    [
        rb'"\u0074imestamp"',
        rb'"timestam\u0070"',
        rb'"\u0074\u0069\u006D\u0065\u0073\u0074\u0061\u006d\u0070"',
    ],
)
def test_a_date_time_key_spelled_with_escapes_is_a_date_time(key):
    line = b'{"uid":"a",' + key + b':"' + STAMP.encode() + b'","subject":"s"}\n'
    out = record(line)
    assert out["timestamp"] == STAMP + "Z"
    assert len(out) == len(FIELDS)  # no null added for the field: it is there


@pytest.mark.parametrize(
    "line",
    [
        # A quote inside a key: not the date-time field, whose copy goes as null.
        rb'{"uid":"a","\"timestamp":"2026-08-21T10:00:00"}',
        rb'{"uid":"a","timestamp\"":"2026-08-21T10:00:00"}',
        rb'{"uid":"a","x":"\"timestamp\":\"2026-08-21T10:00:00\""}',
        # A nested key of the same name and value, the top-level one escaped.
        rb'{"uid":"a","stats":{"timestamp":"2026-08-21T10:00:00"},"\u0074imestamp":null}',
    ],
)
def test_a_quote_or_a_nested_copy_is_not_the_date_time_field(line):
    out = record(line + b"\n")
    assert out["timestamp"] is None
    assert STAMP + "Z" not in json.dumps(out)


def test_an_escaped_top_level_key_beside_a_plain_nested_copy_gets_the_offset():
    line = (
        rb'{"uid":"a","stats":{"timestamp":"2026-08-21T10:00:00"},'
        rb'"\u0074imestamp":"2026-08-21T10:00:00"}' + b"\n"
    )
    out = record(line)
    assert out["timestamp"] == STAMP + "Z"
    assert out["stats"] == [("timestamp", STAMP)]  # nested: not a date-time field


def test_a_slash_escape_in_a_date_time_key_and_in_an_unknown_key():
    fields, paths = ("uid", "a/b"), (("a/b",),)
    line = rb'{"uid":"u","a\/b":"2026-08-21T10:00:00","c\/d":1}' + b"\n"
    verdict = both(line, fields=fields, date_times=paths)
    assert verdict[0] == "ok"
    assert dict(verdict[1][0]) == {"uid": "u", "a/b": STAMP + "Z", "c/d": 1}
    assert verdict[2] == {"c/d": 4}


def test_a_surrogate_pair_in_a_date_time_key_and_in_an_unknown_key():
    name = "t\U0001f600"
    fields, paths = ("uid", name), ((name,),)
    line = rb'{"uid":"u","t\ud83d\ude00":"2026-08-21T10:00:00","\uD83D\uDE00":"x"}' + b"\n"
    verdict = both(line, fields=fields, date_times=paths)
    assert verdict[0] == "ok"
    assert dict(verdict[1][0]) == {"uid": "u", name: STAMP + "Z", "\U0001f600": "x"}
    assert verdict[2] == {"\U0001f600": 16}


def test_a_schema_field_spelled_with_escapes_is_present():
    out = record(rb'{"\u0075id":"a","crm\u005fstatus":{"push_time":null}}' + b"\n")
    assert out["uid"] == "a"
    assert out["crm_status"] == [("push_time", None)]
    assert len(out) == len(FIELDS)


def test_a_nested_date_time_reached_through_escaped_keys_gets_its_offset():
    line = rb'{"uid":"a","crm_\u0073tatus":{"push\u005ftime":"2026-08-21T10:00:00"}}' + b"\n"
    assert record(line)["crm_status"] == [("push_time", STAMP + "Z")]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (rb'{"uid":"a","timestamp":null,"\u0074imestamp":"2026-08-21T10:00:00"}', "timestamp"),
        (rb'{"uid":"a","x\/y":1,"x/y":2}', "x/y"),
        (rb'{"uid":"a","\ud83d\ude00":1,"\U0001F600":2}', "\U0001f600"),
        (rb'{"u\u0069d":"a","uid":"b"}', "uid"),
        (
            rb'{"uid":"a","crm_status":{"push_time":null,"push\u005Ftime":null}}',
            "crm_status.push_time",
        ),
    ],
)
def test_a_key_equal_to_another_once_decoded_is_a_repeat(line, key):
    verdict = both(line.replace(rb"\U0001F600", "\U0001f600".encode()) + b"\n")
    assert verdict == (
        "error",
        f"w: line 1 holds the key {key!r} twice in one object; JSON readers disagree on "
        "which value counts, so the line is refused",
    )


# The property: any spelling of a record gives the records its plain spelling gives.

SPELLINGS = 3
"""Random spellings of each generated record, next to its plain one."""
tried = {"records": 0, "spellings": 0}


@pytest.fixture(scope="module", autouse=True)
def report_spellings(request):
    """Say how many spellings the property test tried (``-s`` shows it)."""
    yield
    if tried["spellings"]:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(
                f"\nkey spellings: {tried['records']} generated records, "
                f"{tried['spellings']} spellings, each through {len(passes())} pass(es)"
            )


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(record=records(), seed=st.integers(0, 2**32 - 1))
def test_any_spelling_of_a_record_gives_the_plain_spelling_s_records(record, seed):
    rng = random.Random(seed)
    want = [outcome(written(record, plain, rng).encode() + b"\n", native) for native in passes()]
    assert want[-1] == want[0], "the passes differ on the plain spelling"
    tried["records"] += 1
    for _ in range(SPELLINGS):
        line = written(record, spelled, rng).encode() + b"\n"
        tried["spellings"] += 1
        for native, expected in zip(passes(), want, strict=True):
            assert outcome(line, native) == expected, f"{line!r} (native={native})"
