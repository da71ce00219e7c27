"""The fast path's SQL from the raw table to the stream's table: typed rows, then a merge.

The rows are the raw table's records cast as the target would store them
(:mod:`target_postgres_batch.columns`); how they reach the table depends on the stream's
keys and the table's indexes, as target-postgres decides it:

- no keys: appended (:func:`append`);
- a primary key or unique index on exactly the keys: one ``INSERT … ON CONFLICT DO
  UPDATE`` (:func:`upsert`), the last record of a key winning;
- keys without such an index: target-postgres's own merge from a temporary table
  (:func:`merge_through_temp_table`), again with the last record of each key.
"""

from __future__ import annotations

import typing as t

import psycopg

from target_postgres_batch.columns import Plan, literal

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy
    from target_postgres.sinks import PostgresSink

RAW_TABLE = "pg_temp.tpb_raw"
LINE = "_tpb_line_"  # the line number beside the typed columns (no stream property may be it)


class Statement(t.NamedTuple):
    """The parts of the merge's SQL that every way of merging shares."""

    target: str  # the table, quoted and qualified
    names: str  # its columns, quoted, comma-separated
    rows: str  # SELECT of the typed rows, LINE first
    keys: list[str]  # the stream's keys, quoted


def statement(
    connection: sqlalchemy.engine.Connection,
    table: sqlalchemy.Table,
    plan: Plan,
    key_properties: t.Sequence[str],
) -> Statement:
    """The typed rows of the raw table as SQL, and the names the merges need."""
    preparer = connection.dialect.identifier_preparer
    target = preparer.format_table(table)
    typed = ", ".join(f"{c.expression} as {c.quoted}" for c in plan.columns)
    # A line that is not a JSON object would be a row of NULLs: refuse it, and any record
    # the plan's jsonpath or checks of the line as written match.
    refuse = " or ".join(
        [
            "r.j is null or jsonb_typeof(r.j) <> 'object'",
            *([f"r.j @? {literal(plan.refuse_path)}"] if plan.refuse_path else []),
            *(f"({check})" for check in plan.raw_checks),
        ]
    )
    # Each line is read as jsonb once (offset 0: not once per use of r.j).
    rows = (
        f"select raw.n as {LINE}, {typed} from {RAW_TABLE} raw "  # noqa: S608
        "cross join lateral (select raw.t::jsonb as j offset 0) r, "
        f"jsonb_populate_record(null::{target}, r.j) p where case when {refuse} then "
        "pg_temp.tpb_refuse('(record)', 'value of a type its column does not take') "
        "is null else true end"
    )
    return Statement(
        target=target,
        names=", ".join(c.quoted for c in plan.columns),
        rows=rows,
        keys=[preparer.quote(k) for k in key_properties],
    )


def latest_of_each_key(sql: Statement) -> str:
    """SELECT of the typed rows, only the last line of each key."""
    key_list = ", ".join(sql.keys)
    return (
        f"select distinct on ({key_list}) {sql.names} from ({sql.rows}) s "  # noqa: S608
        f"order by {key_list}, s.{LINE} desc"
    )


def append(cursor: psycopg.Cursor, sql: Statement) -> None:
    """Every row inserted: a stream without keys."""
    cursor.execute(f"insert into {sql.target} ({sql.names}) select {sql.names} from ({sql.rows}) s")  # noqa: S608


def upsert(cursor: psycopg.Cursor, sql: Statement, plan: Plan) -> None:
    """One INSERT … ON CONFLICT on the keys' unique index; the last record of a key wins.

    Most batches hold each key once: then the rows as they come upsert the same as the last
    of each key, without sorting them. A key twice makes PostgreSQL refuse the statement (it
    would update a row twice): then it runs again on the last of each key.
    """
    updates = ", ".join(
        f"{c.quoted} = excluded.{c.quoted}" for c in plan.columns if c.quoted not in sql.keys
    )
    action = f"do update set {updates}" if updates else "do nothing"
    conflict = f"on conflict ({', '.join(sql.keys)}) {action}"
    insert = f"insert into {sql.target} ({sql.names})"
    cursor.execute("savepoint tpb_upsert")
    try:
        cursor.execute(f"{insert} select {sql.names} from ({sql.rows}) s {conflict}")  # noqa: S608
    except psycopg.errors.CardinalityViolation:
        cursor.execute("rollback to savepoint tpb_upsert")
        cursor.execute(f"{insert} {latest_of_each_key(sql)} {conflict}")


def merge_through_temp_table(
    sink: PostgresSink,
    connection: sqlalchemy.engine.Connection,
    cursor: psycopg.Cursor,
    table: sqlalchemy.Table,
    sql: Statement,
) -> None:
    """Keys without a unique index on them: target-postgres's own merge from a temp table."""

    def fill(temp_table: sqlalchemy.Table) -> None:
        temp = connection.dialect.identifier_preparer.format_table(temp_table)
        cursor.execute(f"insert into {temp} ({sql.names}) {latest_of_each_key(sql)}")

    through_temp_table(sink, connection, table, sink.generate_temp_table_name(), fill)


def through_temp_table(
    sink: PostgresSink,
    connection: sqlalchemy.engine.Connection,
    table: sqlalchemy.Table,
    name: str,
    fill: Callable[[sqlalchemy.Table], None],
) -> None:
    """A temporary copy of ``table`` named ``name``, filled by ``fill``, merged, dropped.

    The merge is target-postgres's own ``upsert`` on the stream's keys, so rows reach the
    table as the stock target's would; the fast path's fallback for keys without a unique
    index and the slow path's chunks both go this way.
    """
    temp_table = sink.connector.copy_table_structure(
        full_table_name=name, from_table=table, as_temp_table=True, connection=connection
    )
    fill(temp_table)
    sink.upsert(
        from_table=temp_table,
        to_table=table,
        schema=sink.schema,
        join_keys=sink.key_properties,
        connection=connection,
    )
    sink.connector.drop_table(table=temp_table, connection=connection)


def unique_on_keys(cursor: psycopg.Cursor, target: str, key_properties: t.Sequence[str]) -> bool:
    """Whether a primary key or unique index covers exactly the stream's keys."""
    found = cursor.execute(
        "select array_agg(a.attname::text order by a.attname) from pg_index i "
        "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = to_regclass(%(t)s) and (i.indisprimary or i.indisunique) "
        "and i.indpred is null and i.indexprs is null group by i.indexrelid",
        {"t": target},
    ).fetchall()
    return any(row[0] == sorted(key_properties) for row in found)


def merge(
    sink: PostgresSink,
    connection: sqlalchemy.engine.Connection,
    cursor: psycopg.Cursor,
    table: sqlalchemy.Table,
    plan: Plan,
) -> None:
    """The typed rows into the table, the way the stream's keys and indexes call for."""
    sql = statement(connection, table, plan, sink.key_properties)
    if not sql.keys:
        append(cursor, sql)
    elif unique_on_keys(cursor, sql.target, sink.key_properties):
        upsert(cursor, sql, plan)
    else:
        merge_through_temp_table(sink, connection, cursor, table, sql)
