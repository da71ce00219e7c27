"""Each column's SQL expression over a JSON record, equal to what target-postgres 0.8.1 stores.

target-postgres loads a BATCH file's records by reading each line with the SDK's JSON reader
(numbers as ``Decimal``) and COPYing every column's value, as psycopg writes it in COPY
text, into a temporary table of the target table's column types. So for a plain column the
server parses the value's text with the column type's input function. Here the record is a
``jsonb`` row ``r.j``, and each column is ``(r.j->>'name')::<the column's type>``: the same
text (a JSON string's contents, or a number as written) through the same input function.

Where psycopg's text and ``->>``'s differ, the value is not cast but refused, so the fast path
gives way to the target's own (:mod:`target_postgres_batch.sink`) instead of storing another
value: a text column takes JSON strings and nulls only (psycopg writes ``true`` as ``t`` and
objects as Python reprs or simplejson text, ``->>`` as JSON). ``jsonb`` columns take the JSON
value itself (JSON null as SQL NULL, as psycopg writes ``None``), arrays are built element by
element in order (a JSON null element is a NULL element of a ``text[]``, the JSON ``null`` of a
``jsonb[]``: what the target's ARRAY(JSONB) binding writes).

A column this module cannot express exactly (bytea from ``contentEncoding``, a type the
stream's JSON schema maps differently from the table's existing column, …) makes
:func:`column_plan` return None: the whole stream then keeps the target's own path.
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
# the Decimal into a Python float, which psycopg writes as repr(float), and PostgreSQL's
# float8 text is the same shortest round-trip digits for numbers of at most 15 significant
# digits from 1e-300 to 1e15 (checked against Python on 200,000 such floats), except that
# it writes integral values without Python's ".0" (a numeric of another scale: 100, not
# 100.0), which is put back. Other numbers are refused: there the two can pick other
# digits of the same float (Python 4e+23, PostgreSQL 3.9999999999999997e+23).
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
language sql stable strict as $$
  select case
    when length(btrim(translate(t, '-.', ''), '0')) > 15 or abs(t::numeric) >= 1e15
      or (abs(t::numeric) < 1e-300 and t::numeric <> 0)
      then pg_temp.tpb_refuse(col, 'number beyond 15 digits or 1e-300..1e15')::numeric
    when f ~ '^-?[0-9]+$' then (f || '.0')::numeric
    else f::numeric end
  from (select t::float8::text as f) as s
$$
""",
)

# The JSON types a column of each category takes as the target would; other values are
# refused (the target binds them otherwise, e.g. 1 into boolean as 1, "5" into numeric).
ACCEPTED = {
    "text": "'string'",
    "temporal": "'string'",
    "integer": "'number'",
    "number": "'number'",
    "boolean": "'boolean'",
}


@dataclass(frozen=True)
class Column:
    """One target column: its quoted name and the SELECT expression giving its value."""

    name: str
    quoted: str
    expression: str


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


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _value(value: str, text: str, category: str, cast: str, label: str) -> str:
    """The SQL giving a column's (or array element's) value from its jsonb ``value``.

    ``text``: the SQL of the value's text (``->>`` of the field, or ``#>>`` of an element).
    Missing and JSON null give NULL, as the target writes None, except in jsonb, where the
    target's JSONB binding writes None as the JSON value null.
    """
    if category == "jsonb":
        return f"coalesce({value}, 'null'::jsonb)"
    if category == "text":
        typed = text
    elif category == "number":
        typed = f"pg_temp.tpb_number({text}, {_literal(label)})"
    else:
        typed = f"{text}::{cast}"
    refuse = f"pg_temp.tpb_refuse({_literal(label)}, jsonb_typeof({value}))::{cast}"
    return (
        f"case coalesce(jsonb_typeof({value}), 'null') when {ACCEPTED[category]} then {typed} "
        f"when 'null' then null else {refuse} end"
    )


def _expression(name: str, sql_type: Any, category: str, dialect: Dialect) -> str:
    """The SELECT expression for one column of the jsonb record ``r.j``."""
    field = f"(r.j -> {_literal(name)})"
    cast = sql_type.compile(dialect=dialect)
    if not category.startswith("array:"):
        return _value(field, f"(r.j ->> {_literal(name)})", category, cast, name)
    item_category = category.split(":", 1)[1]
    item_cast = sql_type.item_type.compile(dialect=dialect)
    # A jsonb[] element keeps JSON null as the JSON value null (the target binds each
    # element as Jsonb(None)); other elements as a column of their type would be.
    item = (
        "e.v"
        if item_category == "jsonb"
        else _value("e.v", "(e.v #>> '{}')", item_category, item_cast, name + "[]")
    )
    elements = (
        f"array(select {item} from jsonb_array_elements({field}) with ordinality as e(v, i) "  # noqa: S608
        f"order by e.i)::{cast}"
    )
    refuse = f"pg_temp.tpb_refuse({_literal(name)}, jsonb_typeof({field}))::{cast}"
    return (
        f"case coalesce(jsonb_typeof({field}), 'null') when 'array' then {elements} "
        f"when 'null' then null else {refuse} end"
    )


def column_plan(
    table: sqlalchemy.Table,
    schema: dict[str, Any],
    to_sql_type: Any,
    dialect: Dialect,
) -> list[Column] | None:
    """The SELECT expressions of the stream's columns, or None if one cannot be exact.

    ``to_sql_type`` is the connector's JSON-schema-to-SQL mapping: the type target-postgres
    binds values with. It must bind them the way the table's existing column takes them
    (a JSON object into a jsonb column, not into a text one), or the stream is not fast.
    """
    preparer = dialect.identifier_preparer
    columns = []
    for name, property_schema in schema["properties"].items():
        if name not in table.columns:
            return None
        actual = table.columns[name].type
        category = _category(actual)
        if category is None or _category(to_sql_type(property_schema)) != category:
            return None
        expression = _expression(name, actual, category, dialect)
        columns.append(Column(name, preparer.quote(name), expression))
    return columns
