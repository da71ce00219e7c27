r"""target-postgres 0.8.1's sink, with BATCH files loaded by the server instead of by Python.

The stock sink reads every line of a BATCH file into a dict, keeps the last record of each
key, and COPYs the rows through Python into a temporary table it then merges. Here, for a
JSONL manifest:

1. the table is prepared by the target's own ``prepare_table`` (creation, new columns,
   type mapping from the SCHEMA message: unchanged);
2. each file is streamed, decompressed in 1 MiB chunks, by COPY into a temporary table of
   lines numbered in file order, each read once as ``jsonb`` by the merge;
3. one ``INSERT … SELECT … ON CONFLICT (keys) DO UPDATE`` casts every column as the target
   would store it (:mod:`target_postgres_batch.columns`) and upserts every column of the
   stream's schema; if a key repeats, PostgreSQL refuses that statement and it runs again
   as ``SELECT DISTINCT ON (keys) … ORDER BY keys, line DESC``, the last occurrence of
   each key as the target keeps it (the target's own insert-then-update when the table has
   no unique index on exactly the keys; a plain insert without keys);
4. all of it in one transaction per BATCH message, in a thread of the target's loads
   (loads.py): committed before any STATE after it leaves the target.

What takes the target's own path instead (:mod:`target_postgres_batch.fallback`: the
same records, methods and rows as the stock target, in bounded memory), so rows never
differ: a run whose singer-sdk changed a handler the threads rely on (guard.py);
``sanitize_null_text_characters``, ``stream_maps`` or ``flattening_enabled`` in the config;
a column the fast path cannot type exactly; and a batch whose data PostgreSQL refuses on
the fast path (a value of a JSON type a text column would store differently, JSON
PostgreSQL's jsonb does not take such as ``\u0000``, a line that is not an object): that
whole BATCH message is rolled back and loaded again the target's way, with a warning
saying why. An encoding other than JSONL goes to singer-sdk's own reader. A file that
cannot be read (missing, truncated gzip) fails the run with one error naming it, and
nothing of its message is kept.
"""

from __future__ import annotations

import time
import typing as t

import psycopg
import sqlalchemy
from target_postgres.sinks import PostgresSink

from target_postgres_batch import fallback
from target_postgres_batch.columns import FUNCTIONS, column_plan
from target_postgres_batch.files import chunks
from target_postgres_batch.merge import LINE, RAW_TABLE, merge

if t.TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

# Settings under which the target's BATCH rows are not plainly each record's columns.
ROW_CHANGING_SETTINGS = ("sanitize_null_text_characters", "stream_maps", "flattening_enabled")
# CSV with quote and delimiter bytes that valid JSON never holds unescaped: each line is
# one field, taken as written (no backslash escapes as in COPY's text format).
COPY_RAW = f"copy {RAW_TABLE} (t) from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"


class _NotExactError(Exception):
    """A column the fast path cannot type as the target does: take the target's path."""


class PostgresBatchSink(PostgresSink):
    """PostgresSink whose JSONL BATCH files go from file to table without Python decoding."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """The stock sink, and its target's loads (loads.py) and path, if it has them."""
        super().__init__(*args, **kwargs)
        target = kwargs.get("target", args[0] if args else None)
        self._loads = getattr(target, "batch_loads", None)
        self._fast_path = getattr(target, "fast_path", True)

    def process_batch_files(
        self,
        encoding: BaseBatchFileEncoding,
        files: t.Sequence[str],
    ) -> None:
        """Hand the message to the target's loads: other tables' may load meanwhile."""
        if self._loads is None:
            self._load_message(encoding, files)
            return
        self._loads.submit(self.stream_name, lambda: self._load_message(encoding, files))

    def _load_message(self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> None:
        """Load a BATCH message by COPY and one merge, or the target's way if not exact."""
        reason = self._not_fast_reason(encoding)
        if reason:
            self.logger.info(
                "BATCH files of %s loaded the target's way: %s", self.stream_name, reason
            )
            self._load_the_targets_way(encoding, files)
            return
        try:
            self._load_fast(encoding, files)
        except _NotExactError:
            self.logger.info(
                "BATCH files of %s loaded the target's way: a column the fast path cannot "
                "type as the target does",
                self.stream_name,
            )
            self._load_the_targets_way(encoding, files)
        except (psycopg.errors.DataError, sqlalchemy.exc.DataError) as exc:
            detail = str(getattr(exc, "orig", exc)).splitlines()[0]
            self.logger.warning(
                "BATCH message of %s refused by the COPY fast path (%s); rolled back and "
                "loaded the target's way",
                self.stream_name,
                detail,
            )
            self._load_the_targets_way(encoding, files)

    def _load_the_targets_way(
        self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]
    ) -> None:
        """The stock target's rows: JSONL a chunk at a time (fallback.py), else the SDK's."""
        if encoding.format != "jsonl":
            super().process_batch_files(encoding, files)
            return
        started = time.perf_counter()
        loaded = fallback.load(self, encoding, files)
        self.logger.info(
            "BATCH message of %s: %d records from %d files the target's way, %.2f s",
            self.stream_name,
            loaded,
            len(files),
            time.perf_counter() - started,
        )

    def _not_fast_reason(self, encoding: BaseBatchFileEncoding) -> str:
        """Why this message must take the target's path, or '' if the fast one is exact."""
        if not self._fast_path:
            return "this singer-sdk release (see the warning at start)"
        if encoding.format != "jsonl":
            return f"encoding {encoding.format}"
        for name in ROW_CHANGING_SETTINGS:
            if self.config.get(name):
                return f"setting {name}"
        return ""

    def _load_fast(self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> None:
        """COPY the files' lines into a temporary table and merge them, in one transaction.

        _NotExactError, with nothing done, when a column cannot be typed exactly.
        """
        storage = self.batch_config.storage if self.batch_config else None
        with self.connector._connect() as connection, connection.begin():  # guard.py checks it
            table = self.connector.prepare_table(
                full_table_name=self.full_table_name,
                schema=self.schema,
                primary_keys=self.key_properties,
                as_temp_table=False,
                connection=connection,
            )
            plan = column_plan(
                table,
                self.schema,
                self.connector.to_sql_type,
                connection.dialect,
                use_copy=bool(self.config.get("use_copy")),
            )
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
                "(n bigint generated always as identity, t text) "
                "with (toast_tuple_target = 8160) on commit drop"
            )
            copied = 0
            for url in files:
                with cursor.copy(COPY_RAW) as copy:
                    for block in chunks(url, encoding.compression, storage):
                        copy.write(block)
                copied += max(cursor.rowcount, 0)
            copy_seconds = time.perf_counter() - started
            merge(self, connection, cursor, table, plan)
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
