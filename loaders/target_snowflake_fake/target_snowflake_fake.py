"""MeltanoLabs target-snowflake, loading into a local fakesnow server: for tests only.

The real target always connects to ``<account>.snowflakecomputing.com`` and loads through
an internal stage with SQL the fake does not run (``PUT`` to ``@~``, ``MERGE`` selecting
from a stage with ``file_format =>``, ``QUALIFY ... SEQ8()``, ``REMOVE``, ``DROP FILE
FORMAT``). This wrapper keeps everything else of the target, which is what a test of the
tap's output needs: its settings, its SCHEMA handling, its CREATE/ALTER TABLE and type
mapping (objects and arrays as VARIANT), its column casts and its key handling. Only two
things change:

- the connection goes to ``FAKESNOW_HOST``:``FAKESNOW_PORT`` over http;
- a batch is staged with statements the fake runs: ``PUT`` to a named stage, ``COPY INTO``
  a one-VARIANT-column work table, then ``MERGE`` (or ``INSERT``) from a subquery over that
  table with the target's own casts. Rows of one batch with the same key keep the last,
  as the target's ``QUALIFY`` does. Loads are serialised: the fake's MERGE uses a fixed
  work table of its own.

So a round trip through it proves the tap's schemas, keys and values against the real
target's DDL and casts, not the target's own stage SQL.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import text
from target_snowflake.connector import SnowflakeConnector
from target_snowflake.sinks import SnowflakeSink
from target_snowflake.target import TargetSnowflake

STAGE = "tap_activities_fake_stage"
_LOADS = threading.Lock()


class FakeSnowflakeConnector(SnowflakeConnector):
    """The target's connector, connected to fakesnow and staging the fake's way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._staged: dict[str, list[str]] = {}

    def get_connect_args(self) -> dict[str, Any]:
        """The target's connect args, pointed at the fake (which needs no account host)."""
        args = super().get_connect_args()
        args.update(
            host=os.environ.get("FAKESNOW_HOST", "127.0.0.1"),
            port=int(os.environ["FAKESNOW_PORT"]),
            protocol="http",
            network_timeout=60,  # an internal error of the fake is an HTTP 500, retried long
        )
        args["session_parameters"] = {
            **args.get("session_parameters", {}),
            "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
        }
        return args

    def put_batches_to_stage(self, sync_id: str, files: Sequence[str]) -> None:
        """Remember the files: they are staged with the keys known, in :meth:`_load`."""
        self._staged[sync_id] = list(files)

    def merge_from_stage(
        self,
        full_table_name: Any,
        schema: dict,
        sync_id: str,
        file_format: str,
        key_properties: Sequence[str],
    ) -> int:
        """Upsert the batch on its keys."""
        return self._load(full_table_name, schema, sync_id, key_properties)

    def copy_from_stage(
        self,
        full_table_name: Any,
        schema: dict,
        sync_id: str,
        file_format: str,
    ) -> int:
        """Append the batch (no keys)."""
        return self._load(full_table_name, schema, sync_id, ())

    def remove_staged_files(self, sync_id: str) -> None:
        """Forget the batch (its staged copy went with the work table)."""
        self._staged.pop(sync_id, None)

    def drop_file_format(self, file_format: str) -> None:
        """The fake has no DROP FILE FORMAT; its file formats live as long as it does."""

    def _load(self, full_table_name: Any, schema: dict, sync_id: str, keys: Sequence[str]) -> int:
        database, schema_name = str(full_table_name).split(".")[:2]
        records = _last_per_key(_read(self._staged.get(sync_id, [])), keys)
        with tempfile.TemporaryDirectory() as tmp:
            batch = Path(tmp) / f"{sync_id}.json.gz"
            with gzip.open(batch, "wt", encoding="utf-8") as out:
                for record in records:
                    out.write(json.dumps(record) + "\n")
            work = f'{database}.{schema_name}."work-{sync_id}"'
            stage = f"{database}.{schema_name}.{STAGE}"
            columns = self._get_column_selections(schema)
            casts = ", ".join(
                f"v:{c['clean_property_name']}::{c['sql_type']} as {c['clean_alias']}"
                for c in columns
            )
            names = [c["clean_alias"] for c in columns]
            quoted = [self.format_identifier(k, safe=True) for k in keys]
            on = " and ".join(f"d.{k} = s.{k}" for k in quoted)
            with _LOADS, self._connect() as conn, conn.begin():
                conn.execute(text(f"use schema {database}.{schema_name}"))
                conn.execute(text(f"create stage if not exists {stage}"))
                conn.execute(text(f"put 'file://{batch}' @{stage}/{sync_id}"))
                conn.execute(text(f"create or replace table {work} (v variant)"))
                conn.execute(
                    text(f"copy into {work} from @{stage}/{sync_id} file_format = (type = 'JSON')")
                )
                conn.execute(text(_load_statement(full_table_name, casts, work, names, on)))
                conn.execute(text(f"drop table if exists {work}"))
        return len(records)


def _load_statement(table: Any, casts: str, work: str, names: list[str], on: str) -> str:
    """MERGE on the keys (``on``), or INSERT without keys, from the work table's casts.

    Identifiers are the target's own (its table name and its formatted column names).
    """
    source = f"(select {casts} from {work}) s"  # noqa: S608
    columns = ", ".join(names)
    if not on:
        return f"insert into {table} ({columns}) select {columns} from {source}"  # noqa: S608
    updates = ", ".join(f"d.{n} = s.{n}" for n in names)
    values = ", ".join(f"s.{n}" for n in names)
    return (
        f"merge into {table} d using {source} on {on} "  # noqa: S608 - the target's names
        f"when matched then update set {updates} "
        f"when not matched then insert ({columns}) values ({values})"
    )


def _read(files: Iterable[str]) -> list[dict]:
    records: list[dict] = []
    for url in files:
        path = urlparse(url).path
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records


def _last_per_key(records: list[dict], keys: Sequence[str]) -> list[dict]:
    if not keys:
        return records
    last = {tuple(r.get(k) for k in keys): r for r in records}
    return list(last.values())


class FakeSnowflakeSink(SnowflakeSink):
    """The target's sink with the fake's connector."""

    connector_class = FakeSnowflakeConnector


class TargetSnowflakeFake(TargetSnowflake):
    """target-snowflake against fakesnow (FAKESNOW_HOST, FAKESNOW_PORT)."""

    name = "target-snowflake"
    default_sink_class = FakeSnowflakeSink
