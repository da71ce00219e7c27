r"""target-postgres 0.8.1's sink, with BATCH files loaded by the server instead of by Python.

The stock sink reads every line of a BATCH file into a dict, keeps the last record of each
key, and COPYs the rows through Python into a temporary table it then merges. Here, for a
JSONL manifest:

1. the table is prepared by the target's own ``prepare_table`` (creation, new columns,
   type mapping from the SCHEMA message: unchanged);
2. each file is streamed, decompressed in 1 MiB chunks, by COPY into a temporary
   ``jsonb`` table numbered in file order;
3. one ``INSERT … SELECT … ON CONFLICT (keys) DO UPDATE`` casts every column as the target
   would store it (:mod:`target_postgres_batch.columns`) and upserts every column of the
   stream's schema; if a key repeats, PostgreSQL refuses that statement and it runs again
   as ``SELECT DISTINCT ON (keys) … ORDER BY keys, line DESC``, the last occurrence of
   each key as the target keeps it (the target's own insert-then-update when the table has
   no unique index on exactly the keys; a plain insert without keys);
4. all of it in one transaction per BATCH message, in a thread of the target's loads
   (loads.py): committed before any STATE after it leaves the target.

What keeps the target's own path (``super().process_batch_files``), so rows never differ:
an encoding other than JSONL; a singer-sdk whose private storage helper the fast path reads
files with has moved or changed (files.py); ``sanitize_null_text_characters``, ``stream_maps`` or
``flattening_enabled`` in the config; a column the fast path cannot type exactly; and a
batch whose data PostgreSQL refuses on the fast path (a value of a JSON type a text column
would store differently, JSON PostgreSQL's jsonb does not take such as ``\u0000``, a line
that is not an object): that whole BATCH message is rolled back and loaded again the
target's way, with a warning saying why. A file that cannot be read (missing, truncated
gzip) fails the run with one error naming it, and nothing of its message is kept.
"""

from __future__ import annotations

import time
import typing as t

import psycopg
import sqlalchemy
from target_postgres.sinks import PostgresSink

from target_postgres_batch.columns import FUNCTIONS, Plan, column_plan, literal
from target_postgres_batch.files import chunks, storage_problem

if t.TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

# Whether the installed singer-sdk's storage helper serves the fast path: settled once.
STORAGE_PROBLEM = storage_problem()
# Settings under which the target's BATCH rows are not plainly each record's columns.
ROW_CHANGING_SETTINGS = ("sanitize_null_text_characters", "stream_maps", "flattening_enabled")
RAW_TABLE = "pg_temp.tpb_raw"
LINE = "_tpb_line_"  # the line number beside the typed columns (no stream property may be it)
# CSV with quote and delimiter bytes that valid JSON never holds unescaped: each line is
# one field, taken as written (no backslash escapes as in COPY's text format).
COPY_RAW = f"copy {RAW_TABLE} (j) from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"


class _NotExactError(Exception):
    """A column the fast path cannot type as the target does: take the target's path."""


class PostgresBatchSink(PostgresSink):
    """PostgresSink whose JSONL BATCH files go from file to table without Python decoding."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """The stock sink, and its target's loads (loads.py), if it has them."""
        super().__init__(*args, **kwargs)
        target = kwargs.get("target", args[0] if args else None)
        self._loads = getattr(target, "batch_loads", None)

    def process_batch_files(
        self,
        encoding: BaseBatchFileEncoding,
        files: t.Sequence[str],
    ) -> None:
        """Hand the message to the target's loads: other tables' may load meanwhile."""
        if self._loads is None:
            self._process_batch_files_now(encoding, files)
            return
        self._loads.submit(self.stream_name, lambda: self._process_batch_files_now(encoding, files))

    def _process_batch_files_now(
        self,
        encoding: BaseBatchFileEncoding,
        files: t.Sequence[str],
    ) -> None:
        """Load a BATCH message's files by COPY and one merge, or the target's way if not exact."""
        reason = self._not_fast_reason(encoding)
        if reason:
            self.logger.info(
                "BATCH files of %s loaded the target's way: %s", self.stream_name, reason
            )
            super().process_batch_files(encoding, files)
            return
        try:
            self._load_fast(encoding, files)
        except _NotExactError:
            self.logger.info(
                "BATCH files of %s loaded the target's way: a column the fast path cannot "
                "type as the target does",
                self.stream_name,
            )
            super().process_batch_files(encoding, files)
        except (psycopg.errors.DataError, sqlalchemy.exc.DataError) as exc:
            detail = str(getattr(exc, "orig", exc)).splitlines()[0]
            self.logger.warning(
                "BATCH message of %s refused by the COPY fast path (%s); rolled back and "
                "loaded the target's way",
                self.stream_name,
                detail,
            )
            super().process_batch_files(encoding, files)

    def _not_fast_reason(self, encoding: BaseBatchFileEncoding) -> str:
        """Why this message must take the target's path, or '' if the fast one is exact."""
        if encoding.format != "jsonl":
            return f"encoding {encoding.format}"
        if STORAGE_PROBLEM:
            return STORAGE_PROBLEM
        for name in ROW_CHANGING_SETTINGS:
            if self.config.get(name):
                return f"setting {name}"
        return ""

    def _load_fast(self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> None:
        """COPY the files into jsonb and merge them, in one transaction.

        _NotExactError, with nothing done, when a column cannot be typed exactly.
        """
        storage = self.batch_config.storage if self.batch_config else None
        with self.connector._connect() as connection, connection.begin():
            table = self.connector.prepare_table(
                full_table_name=self.full_table_name,
                schema=self.schema,
                primary_keys=self.key_properties,
                as_temp_table=False,
                connection=connection,
            )
            to_sql_type = self.connector.to_sql_type
            plan = column_plan(table, self.schema, to_sql_type, connection.dialect)
            if plan is None or LINE in self.schema["properties"]:
                raise _NotExactError  # leaves the transaction: prepare_table's DDL goes too
            # The driver's own cursor, in the same transaction: no parameter parsing of the
            # statements' own % signs, and COPY.
            started = time.perf_counter()
            cursor = connection.connection.cursor()
            cursor.execute("set local extra_float_digits = 1")  # shortest round-trip floats
            for function in FUNCTIONS:
                cursor.execute(function)
            # toast_tuple_target: records up to a page stay in the row uncompressed, so the
            # merge reads each once instead of decompressing it for every column.
            cursor.execute(
                f"create temporary table {RAW_TABLE.split('.')[1]} "
                "(n bigint generated always as identity, j jsonb) "
                "with (toast_tuple_target = 8160) on commit drop"
            )
            copied = 0
            for url in files:
                with cursor.copy(COPY_RAW) as copy:
                    for block in chunks(url, encoding.compression, storage):
                        copy.write(block)
                copied += max(cursor.rowcount, 0)
            copy_seconds = time.perf_counter() - started
            self._merge(connection, cursor, table, plan)
            cursor.execute(f"drop table {RAW_TABLE}")
            merge_seconds = time.perf_counter() - started - copy_seconds
        self.record_counter_metric.increment(copied)
        self.logger.info(
            "BATCH message of %s: %d records from %d files, COPY %.2f s, merge %.2f s, "
            "commit %.2f s",
            self.stream_name,
            copied,
            len(files),
            copy_seconds,
            merge_seconds,
            time.perf_counter() - started - copy_seconds - merge_seconds,
        )

    def _merge(
        self,
        connection: sqlalchemy.engine.Connection,
        cursor: t.Any,
        table: sqlalchemy.Table,
        plan: Plan,
    ) -> None:
        """The typed rows into the table: last occurrence per key, upserted."""
        columns = plan.columns
        quote = connection.dialect.identifier_preparer.quote
        target = connection.dialect.identifier_preparer.format_table(table)
        names = ", ".join(c.quoted for c in columns)
        typed = ", ".join(f"{c.expression} as {c.quoted}" for c in columns)
        # A line that is not a JSON object would be a row of NULLs: refuse it, and any
        # record the plan's jsonpath matches.
        refuse = "jsonb_typeof(r.j) <> 'object'"
        if plan.refuse_path:
            refuse += f" or r.j @? {literal(plan.refuse_path)}"
        rows = (
            f"select r.n as {LINE}, {typed} from {RAW_TABLE} r, "  # noqa: S608
            f"jsonb_populate_record(null::{target}, r.j) p where case when {refuse} then "
            "pg_temp.tpb_refuse('(record)', 'value of a type its column does not take') "
            "is null else true end"
        )
        keys = [quote(k) for k in self.key_properties]
        if not keys:
            cursor.execute(f"insert into {target} ({names}) select {names} from ({rows}) s")  # noqa: S608
            return
        key_list = ", ".join(keys)
        latest = (
            f"select distinct on ({key_list}) {names} from ({rows}) s "  # noqa: S608
            f"order by {key_list}, s.{LINE} desc"
        )
        if self._unique_on_keys(cursor, target):
            updates = ", ".join(
                f"{c.quoted} = excluded.{c.quoted}" for c in columns if c.quoted not in keys
            )
            action = f"do update set {updates}" if updates else "do nothing"

            def upsert(select: str) -> str:
                return f"insert into {target} ({names}) {select} on conflict ({key_list}) {action}"

            # Most batches hold each key once: then the rows as they come upsert the same
            # as the last of each key, without sorting them. A key twice makes PostgreSQL
            # refuse the statement (it would update a row twice): then the last of each.
            cursor.execute("savepoint tpb_upsert")
            try:
                cursor.execute(upsert(f"select {names} from ({rows}) s"))  # noqa: S608
            except psycopg.errors.CardinalityViolation:
                cursor.execute("rollback to savepoint tpb_upsert")
                cursor.execute(upsert(latest))
            return
        # No unique index on exactly the keys: the target's own merge from a temp table.
        temp_table = self.connector.copy_table_structure(
            full_table_name=self.generate_temp_table_name(),
            from_table=table,
            as_temp_table=True,
            connection=connection,
        )
        temp = connection.dialect.identifier_preparer.format_table(temp_table)
        cursor.execute(f"insert into {temp} ({names}) {latest}")
        self.upsert(
            from_table=temp_table,
            to_table=table,
            schema=self.schema,
            join_keys=self.key_properties,
            connection=connection,
        )
        self.connector.drop_table(table=temp_table, connection=connection)

    def _unique_on_keys(self, cursor: t.Any, target: str) -> bool:
        """Whether a primary key or unique index covers exactly the stream's keys."""
        found = cursor.execute(
            "select array_agg(a.attname::text order by a.attname) from pg_index i "
            "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
            "where i.indrelid = to_regclass(%(t)s) and (i.indisprimary or i.indisunique) "
            "and i.indpred is null and i.indexprs is null group by i.indexrelid",
            {"t": target},
        ).fetchall()
        wanted = sorted(self.key_properties)
        return any(row[0] == wanted for row in found)
