"""The data contract: every record valid against the last SCHEMA message of its stream.

Two things in upstream data break that contract, and this module holds the rules for both:

- **Date-times without an offset.** People.ai writes some timestamps without a zone
  (``2024-02-24T05:39:24``); its documents and clients treat them as UTC. JSON Schema's
  ``date-time`` is RFC 3339, which requires an offset, so such a value goes out with ``Z``
  appended: the same instant, spelled so every validator and loader reads it the same way.
  A value that is no date-time at all is an error naming the line and the field: nulling
  it would lose data, and passing it on breaks the loader later, further from the cause.
- **Fields the schema does not list** (a field People.ai adds, a CSV column ChartMogul
  adds). Their JSON types are seen as records pass (:func:`type_bits`) and declared before
  the first record that carries them (:class:`SchemaDrift`), always nullable and only ever
  widened.

Types seen are kept as bit masks (:data:`NULL` … :data:`ARRAY`), so that worker processes and
the native pass can report them cheaply and masks from many blocks merge with ``|``.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NULL, BOOLEAN, INTEGER, NUMBER, STRING, OBJECT, ARRAY = (1 << bit for bit in range(7))
"""JSON types as bits; the native pass (sources/peopleai/lines/lines.cpp) uses the same values."""

FieldTypes = dict[str, int]
"""Fields outside the schema, each with the JSON types seen in it (a mask)."""

_DATE_TIME = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
    r"(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,  # RFC 3339 digits are ASCII; \d alone would take any script's digits
)
NORMAL_DATE_TIME = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
    r"(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
"""Most date-times, settled by one match: with an offset, on a day every month has (1 to 28).

A value it matches whole is its own normal form (:func:`normal_date_time` returns it as
is); any other goes through the whole check. Half the cost of that check, which the Python
fragment pass makes for every date-time of every record."""


def normal_date_time(value: str) -> str | None:
    """``value`` as an RFC 3339 date-time: itself, or with ``Z`` when it has no offset.

    None when it is no date-time at all (wrong shape, month 13, February 30th…).
    """
    if NORMAL_DATE_TIME.fullmatch(value) is not None:
        return value
    if _DATE_TIME.fullmatch(value) is None:
        return None
    if (
        value[8:10] > "28"
        and int(value[8:10]) > calendar.monthrange(int(value[:4]), int(value[5:7]))[1]
    ):
        return None
    return value if value[-1] in "Zz" or value[-6] in "+-" else value + "Z"


def type_bits(value: Any) -> int:
    """The JSON type of a decoded value (orjson's or simdjson's) as a mask bit."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, (list, tuple)) or type(value).__name__ == "Array":
        return ARRAY
    return OBJECT  # dict, or simdjson's lazy Object


def schema_for(types: int) -> dict[str, Any]:
    """The nullable JSON Schema of a field whose values had these types.

    Integers are numbers, so both give ``number``. A field seen only as null is declared a
    string (the commonest case), and keeps that type in any later widening, so that a
    column once created is never narrowed.
    """
    names = [
        name
        for bit, name in (
            (STRING, "string"),
            (BOOLEAN, "boolean"),
            (INTEGER, "integer"),
            (NUMBER, "number"),
            (OBJECT, "object"),
            (ARRAY, "array"),
        )
        if types & bit and not (bit == INTEGER and types & NUMBER)
    ]
    schema: dict[str, Any] = {"type": [*(names or ["string"]), "null"]}
    if types & ARRAY:
        schema["items"] = {}
    return schema


def declared_bits(types: int) -> int:
    """What a declaration of ``types`` commits to: always null; null alone is a string."""
    return types | NULL | (STRING if not types & ~NULL else 0)


def merge_types(into: FieldTypes, more: Mapping[str, int] | None) -> None:
    """Add the types of ``more`` to ``into``, field by field."""
    if more:
        for name, bits in more.items():
            into[name] = into.get(name, 0) | bits


def date_time_paths(schema: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """Paths of the ``date-time`` properties, through objects (not arrays): ``(a, b)``."""
    paths: list[tuple[str, ...]] = []

    def walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for name, prop in (node.get("properties") or {}).items():
            if prop.get("format") == "date-time":
                paths.append((*prefix, name))
            elif "properties" in prop:
                walk(prop, (*prefix, name))

    walk(schema, ())
    return tuple(paths)


class DateTimeError(ValueError):
    """A ``date-time`` field holds something that is no date-time; worded by the caller."""

    def __init__(self, path: tuple[str, ...], value: Any) -> None:
        super().__init__(path, value)
        self.path = path
        self.value = value

    def describe(self) -> str:
        """``field 'a.b' is not an RFC 3339 date-time ('value')``."""
        return f"field {'.'.join(self.path)!r} is not an RFC 3339 date-time ({self.shown()})"

    def shown(self) -> str:
        """The value, short and the same every run: JSON text cut at 60 characters.

        Strings show as Python writes them (quoted); any other value as JSON, never as an
        object's ``repr`` (which may carry a memory address) and never walked deeper than
        60 characters' worth of output needs.
        """
        if isinstance(self.value, str):
            return repr(self.value[:60])[:60]
        try:
            return json.dumps(self.value, ensure_ascii=False, default=str)[:60]
        except (ValueError, RecursionError):
            return f"a JSON {type(self.value).__name__}"


def fix_date_time(record: dict[str, Any], path: tuple[str, ...]) -> None:
    """Give the date-time at ``path`` its offset; raise :class:`DateTimeError` if it is none."""
    node: Any = record
    for name in path[:-1]:
        node = node.get(name)
        if not isinstance(node, dict):
            return
    value = node.get(path[-1])
    if value is None:
        return
    fixed = normal_date_time(value) if isinstance(value, str) else None
    if fixed is None:
        raise DateTimeError(path, value)
    if fixed is not value:
        node[path[-1]] = fixed


@dataclass
class SchemaDrift:
    """The fields a stream has declared beyond its documented schema during this run."""

    declared: FieldTypes = field(default_factory=dict)

    def absorb(self, seen: Mapping[str, int]) -> list[tuple[str, dict[str, Any], bool]]:
        """Fields whose declaration must change: ``(name, schema, new)``, in ``seen``'s order.

        ``new`` is False for a field declared before whose types widened.
        """
        changes = []
        for name, bits in seen.items():
            before = self.declared.get(name)
            after = declared_bits((before or 0) | bits)
            if after != before:
                self.declared[name] = after
                changes.append((name, schema_for(after), before is None))
        return changes


def describe_types(schema: Mapping[str, Any]) -> str:
    """``integer``, ``string|integer``… for the log line of a declared field."""
    types: Iterable[str] = schema.get("type", [])
    return "|".join(t for t in types if t != "null") or "null"
