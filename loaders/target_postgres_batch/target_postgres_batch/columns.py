"""Each column's SQL over a JSON record, equal to what target-postgres 0.8.1 stores from it.

target-postgres loads a BATCH file's records by reading each line with the SDK's JSON reader
(numbers as ``Decimal``), binding each value with its column's SQLAlchemy type and COPYing
it, as psycopg writes it in COPY text, into a temporary table of the table's column types:
the server parses that text with the type's input function. Here each record is a ``jsonb``
row ``r.j``, and ``jsonb_populate_record`` over the table's row type (``p``) converts every
field in one pass, through the same input functions: a JSON string's contents, a number as
written, an array element by element.

Where the target's binding writes something else, the expression says what it writes: JSON
null (not SQL NULL) for a missing or null jsonb value and for a null element of a jsonb[];
for a number column with ``use_copy``, the Python float of the Decimal (SQLAlchemy's NUMERIC
binding), as ``repr`` writes it (``tpb_number``); without ``use_copy`` the target binds the
Decimal itself, the number exactly as written. Where the two would differ in ways not worth
writing out (``true`` into text: ``t`` against ``true``; a number beyond 1e15 with
``use_copy``: the float's repr; a string in an integer array), the record is refused (a
jsonpath over the record, ``Plan.refuse_path``), and the sink gives the whole BATCH message
to the target's own path.

Two refusals need the line as written, which jsonb no longer holds (``raw.t``): with
``use_copy`` an integer column's number written with an exponent (the target COPYs
``str(Decimal("1e2"))``, ``1E+2``, which PostgreSQL refuses as a bigint, where jsonb has
made it 100), and a record nested deeper than ``MAX_DEPTH`` (Python's JSON reader, which
the target uses, gives up near 1,000 levels; PostgreSQL does not).

A column this module cannot express exactly (bytea from ``contentEncoding``, arrays of
numbers, a column whose table type the stream's JSON schema would bind otherwise, …) makes
:func:`column_plan` return None: the stream keeps the target's own path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy.types import TypeDecorator
from target_postgres.connector import NOTYPE

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

# Functions of the fast path's transaction (pg_temp: gone with the session).
# tpb_refuse raises for a value the fast path would store otherwise than the target: SQLSTATE
# 22000 (data_exception), which the sink takes for "this batch's data" and falls back on.
# tpb_number is the numeric the target stores for a JSON number: its NUMERIC binding turns
# the Decimal into a Python float, which psycopg writes as repr(float). PostgreSQL reads the
# number's text into the same float (both round correctly) and writes it with the same
# shortest round-trip digits from 1e-300 to 1e15 (checked on 526,564 random doubles there,
# full precision, and 200,000 of up to 15 digits: no difference), except that it writes
# integral values without Python's ".0", a numeric of another scale (100, not 100.0): that
# is put back. Outside that range the two can pick other digits (Python 4e+23, PostgreSQL
# 3.9999999999999997e+23), so such numbers are refused.
FUNCTIONS = (
    """
create or replace function pg_temp.tpb_refuse(col text, kind text) returns text
language plpgsql volatile as $$
begin
  raise exception using errcode = '22000',
    message = format('column %s: a JSON %s, which the COPY fast path does not store '
                     'as target-postgres would', col, coalesce(kind, 'non-object line'));
end $$
""",
    """
create or replace function pg_temp.tpb_number(t text, col text) returns numeric
language sql stable as $$
  select case
    when t is null then null
    when abs(t::numeric) >= 1e15 or (abs(t::numeric) < 1e-300 and t::numeric <> 0)
      then pg_temp.tpb_refuse(col, 'number outside 1e-300..1e15')::numeric
    when t::float8::text ~ '^-?[0-9]+$' then (t::float8::text || '.0')::numeric
    else t::float8::text::numeric end
$$
""",
)

# The JSON types (besides null) a column of each category takes from the fast path; where
# the target would bind another type otherwise than jsonb_populate_record converts it (true
# into text: "t" against "true"; "yes" into boolean: refused by SQLAlchemy), the value is
# refused. Integer and temporal columns take any value: a string or number goes through
# the type's input function on both paths, anything else fails on both.
CHECKED = {"text": "string", "boolean": "boolean", "number": "number"}
# Array elements: the target binds a list through psycopg, which refuses lists of mixed
# Python types; the fast path would parse them all as the element type.
CHECKED_ITEMS = {**CHECKED, "integer": "number", "temporal": "string"}
# Records nested deeper than this go the target's way: Python's JSON reader decides there.
MAX_DEPTH = 500


@dataclass(frozen=True)
class Column:
    """One target column: its quoted name and the SELECT expression giving its value."""

    name: str
    quoted: str
    expression: str


@dataclass(frozen=True)
class Plan:
    """The stream's columns as SELECT expressions, and the refusing jsonpath.

    The expressions read ``r.j`` (the record) and ``p`` (the record as the table's row
    type, jsonb_populate_record's); the jsonpath matches a record holding a value the fast
    path must refuse (None: nothing to check).
    """

    columns: list[Column]
    refuse_path: str | None
    raw_checks: list[str]  # SQL conditions over the line as written (raw.t) that refuse it


def _category(sql_type: Any) -> str | None:
    """How target-postgres binds values of this SQL type, or None if not here."""
    if isinstance(sql_type, NOTYPE):
        return "text"
    if isinstance(sql_type, TypeDecorator):  # HexByteString (bytea) and anything unknown
        return None
    if isinstance(sql_type, sqlalchemy.types.ARRAY):
        item = _category(sql_type.item_type)
        # Arrays of numbers are bound through floats per element: not done here.
        plain = {"text", "temporal", "integer", "boolean", "jsonb"}
        return f"array:{item}" if item in plain else None
    kinds = (
        (sqlalchemy.types.JSON, "jsonb"),
        (sqlalchemy.types.String, "text"),
        (sqlalchemy.types.Boolean, "boolean"),
        (sqlalchemy.types.Integer, "integer"),
        (sqlalchemy.types.Numeric, "number"),  # Float too: both bound as Python floats
        (sqlalchemy.types.DateTime, "temporal"),
        (sqlalchemy.types.Date, "temporal"),
        (sqlalchemy.types.Time, "temporal"),
        (sqlalchemy.types.Uuid, "temporal"),  # a string the type's input function parses
    )
    return next((kind for cls, kind in kinds if isinstance(sql_type, cls)), None)


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _path_key(name: str) -> str:
    """A jsonpath member accessor for the property ``name``."""
    return '."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _not_types(accessor: str, *types: str) -> str:
    """jsonpath: some item at ``accessor`` is of none of these types (nor null)."""
    test = " && ".join(f'@.type() != "{kind}"' for kind in (*types, "null"))
    return f"exists(@{accessor} ? ({test}))"


def _column(name: str, category: str, quoted: str, use_copy: bool) -> tuple[str, list[str]]:
    """One column's SELECT expression and the jsonpath conditions refusing its values."""
    key = _path_key(name)
    if category.startswith("array:"):
        item = category.split(":", 1)[1]
        checks = [_not_types(key, "array")]
        if item in CHECKED_ITEMS:
            checks.append(_not_types(key + "[*]", CHECKED_ITEMS[item]))
        if item == "jsonb":  # the target binds each element as Jsonb(None): JSON null
            return f"array_replace(p.{quoted}, null, 'null'::jsonb)", checks
        return f"p.{quoted}", checks
    if category == "jsonb":  # the target's JSONB binding writes None as JSON null
        return f"coalesce(p.{quoted}, 'null'::jsonb)", []
    if category == "number" and use_copy:
        text = f"(r.j ->> {literal(name)})"
        return f"pg_temp.tpb_number({text}, {literal(name)})", [_not_types(key, "number")]
    checks = [_not_types(key, CHECKED[category])] if category in CHECKED else []
    return f"p.{quoted}", checks


def _raw_checks(integer_columns: list[str], use_copy: bool) -> list[str]:
    """SQL conditions over the line as written (raw.t) under which the record is refused."""
    # Depth: a line this deep has at least as many [ and { (a cheap test first).
    checks = [
        f"octet_length(raw.t) >= {2 * MAX_DEPTH} and length(raw.t) - "
        f"length(translate(raw.t, '[{{', '')) >= {MAX_DEPTH} and "
        f"r.j @? {literal(f'lax $.**{{{MAX_DEPTH}}}')}"
    ]
    if use_copy and integer_columns:
        # A number with a non-negative exponent somewhere in the line, then the column's
        # own token as written (json keeps it; ->, like jsonb, takes a repeated key's last).
        tokens = " or ".join(
            f"(raw.t::json -> {literal(name)})::text ~ '[eE]'" for name in integer_columns
        )
        checks.append(f"raw.t ~ '[0-9][eE]\\+?[0-9]' and ({tokens})")
    return checks


def column_plan(
    table: sqlalchemy.Table,
    schema: dict[str, Any],
    to_sql_type: Any,
    dialect: Dialect,
    use_copy: bool,
) -> Plan | None:
    """The stream's SELECT expressions and refusal jsonpath, or None if one cannot be exact.

    ``to_sql_type`` is the connector's JSON-schema-to-SQL mapping: the type target-postgres
    binds values with. It must bind them the way the table's existing column takes them
    (a JSON object into a jsonb column, not into a text one), or the stream is not fast.
    """
    quote = dialect.identifier_preparer.quote
    columns, checks, integers = [], [], []
    for name, property_schema in schema["properties"].items():
        if name not in table.columns:
            return None
        if use_copy and '"' in name:  # the target's COPY statement does not quote it: fails
            return None
        category = _category(table.columns[name].type)
        if category is None or _category(to_sql_type(property_schema)) != category:
            return None
        expression, refusals = _column(name, category, quote(name), use_copy)
        columns.append(Column(name, quote(name), expression))
        checks.extend(refusals)
        if category == "integer":
            integers.append(name)
    # strict: a missing property is an error inside exists(), so unknown, never a match.
    path = "strict $ ? (" + " || ".join(checks) + ")" if checks else None
    return Plan(columns, path, _raw_checks(integers, use_copy))
