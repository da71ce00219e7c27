"""The contract's rules: date-times, JSON types of new fields, and how declarations widen."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tap_activities.records.contract import (
    ARRAY,
    BOOLEAN,
    INTEGER,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    DateTimeError,
    SchemaDrift,
    date_time_paths,
    fix_date_time,
    normal_date_time,
    schema_for,
    type_bits,
)
from tests.kit.singer_contract import FORMATS

DATE_TIME = Draft202012Validator({"type": "string", "format": "date-time"}, format_checker=FORMATS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-24T05:39:24Z", "2024-02-24T05:39:24Z"),
        ("2024-02-24T05:39:24+02:00", "2024-02-24T05:39:24+02:00"),
        ("2024-02-24t05:39:24z", "2024-02-24t05:39:24z"),
        ("2024-02-24T05:39:24.123456-11:30", "2024-02-24T05:39:24.123456-11:30"),
        # Without an offset: UTC, the same instant with its zone written out.
        ("2024-02-24T05:39:24", "2024-02-24T05:39:24Z"),
        ("2024-02-29T23:59:59.5", "2024-02-29T23:59:59.5Z"),
        # No date-times at all.
        ("2023-02-29T00:00:00", None),
        ("2024-13-01T00:00:00Z", None),
        ("2024-01-01 00:00:00Z", None),
        ("2024-01-01", None),
        ("2024-01-01T24:00:00", None),
        ("2024-01-01T00:00:00+2:00", None),
        ("2024-01-01T00:00:00.Z", None),
        ("yesterday", None),
        ("2024-02-24T05:39:2\u0661Z", None),  # a digit, but not an ASCII one
        ("", None),
    ],
)
def test_date_times_get_an_offset_and_non_date_times_are_refused(value, expected):
    assert normal_date_time(value) == expected
    if expected is not None:
        # What comes out is what an RFC 3339 checker (not ours) accepts.
        assert DATE_TIME.is_valid(expected)
        assert normal_date_time(expected) is expected  # unchanged values are not copied


def test_json_types_of_decoded_values():
    values = [None, True, 0, 1.5, "s", {"a": 1}, [1]]
    assert [type_bits(v) for v in values] == [NULL, BOOLEAN, INTEGER, NUMBER, STRING, OBJECT, ARRAY]


@pytest.mark.parametrize(
    ("bits", "types"),
    [
        (INTEGER, ["integer", "null"]),
        (INTEGER | NUMBER, ["number", "null"]),
        (NULL, ["string", "null"]),
        (STRING | INTEGER | NULL, ["string", "integer", "null"]),
        (OBJECT, ["object", "null"]),
        (ARRAY | NULL, ["array", "null"]),
    ],
)
def test_a_field_is_declared_nullable_with_the_types_seen(bits, types):
    assert schema_for(bits)["type"] == types


def test_declarations_only_widen():
    drift = SchemaDrift()
    assert [(n, s["type"], new) for n, s, new in drift.absorb({"x": INTEGER})] == [
        ("x", ["integer", "null"], True)
    ]
    assert drift.absorb({"x": INTEGER | NULL}) == []  # always nullable already
    assert [(n, s["type"], new) for n, s, new in drift.absorb({"x": NUMBER})] == [
        ("x", ["number", "null"], False)
    ]
    assert drift.absorb({"x": INTEGER}) == []  # never narrowed back
    # Seen only as null, declared a string; a later number widens, it does not replace.
    drift.absorb({"y": NULL})
    assert drift.absorb({"y": INTEGER})[0][1]["type"] == ["string", "integer", "null"]


def test_decoded_records_are_fixed_in_place():
    """What the slow lines of the fragment pass get: every date-time path of the schema."""
    paths = date_time_paths(
        {
            "properties": {
                "uid": {"type": ["string"]},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "crm": {
                    "type": ["object", "null"],
                    "properties": {"push": {"type": ["string", "null"], "format": "date-time"}},
                },
            }
        }
    )
    assert paths == (("at",), ("crm", "push"))
    record = {"uid": "a", "at": "2024-01-01T00:00:00", "crm": {"push": "2024-01-01T01:00:00"}}
    for path in paths:
        fix_date_time(record, path)
    assert record == {
        "uid": "a",
        "at": "2024-01-01T00:00:00Z",
        "crm": {"push": "2024-01-01T01:00:00Z"},
    }
    for path in paths:
        fix_date_time({"uid": "b", "crm": None}, path)  # absent or null: nothing to fix
    with pytest.raises(DateTimeError) as refused:
        fix_date_time({"uid": "c", "crm": {"push": "soon"}}, ("crm", "push"))
    assert refused.value.describe() == "field 'crm.push' is not an RFC 3339 date-time ('soon')"
    with pytest.raises(DateTimeError):
        fix_date_time({"uid": "d", "at": 1700000000}, ("at",))
