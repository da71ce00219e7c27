"""The COPY floor: what PostgreSQL itself needs to take these records, with no loader.

For each stream of the tap's output, one after the other: COPY its records (the tap's JSON,
one per line) into a one-column ``jsonb`` table, then INSERT … SELECT them as typed columns
(types from the tap's SCHEMA message) into a table with the stream's key as primary key.
Only those two statements are timed; reading the tap's output into per-stream buffers is
not. A loader can hardly be faster than this: it is the server's parsing, casting and
indexing of exactly these rows, in one transaction per stream.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any


def sql_type(schema: dict) -> str:
    """PostgreSQL type for a JSON Schema property (jsonb for objects, arrays, mixtures)."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    if len(types) != 1:
        return "jsonb"
    kind = types[0]
    if kind == "string":
        return {"date-time": "timestamptz", "date": "date"}.get(schema.get("format", ""), "text")
    return {"integer": "bigint", "number": "numeric", "boolean": "boolean"}.get(kind, "jsonb")


def read_streams(messages: Path) -> dict[str, tuple[dict, list[str], bytes]]:
    """Per stream: its schema, its key, and its records as COPY data (one JSON a line)."""
    schemas: dict[str, tuple[dict, list[str]]] = {}
    records: dict[str, list[str]] = {}
    with messages.open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "SCHEMA":
                schemas[message["stream"]] = (message["schema"], message["key_properties"])
            elif message["type"] == "RECORD":
                records.setdefault(message["stream"], []).append(json.dumps(message["record"]))
    return {
        stream: (*schemas[stream], ("\n".join(rows) + "\n").encode())
        for stream, rows in records.items()
    }


def load_stream(
    conn: Any, schema: str, stream: str, json_schema: dict, keys: list[str], data: bytes
) -> None:
    """COPY into jsonb, then the typed keyed table: the timed part of the floor."""
    columns = json_schema["properties"]
    typed = ", ".join(f'"{name}" {sql_type(spec)}' for name, spec in columns.items())
    casts = ", ".join(
        f"j->'{name}'" if sql_type(spec) == "jsonb" else f"(j->>'{name}')::{sql_type(spec)}"
        for name, spec in columns.items()
    )
    key = ", ".join(f'"{k}"' for k in keys)
    with conn.transaction():
        conn.execute(f'create table "{schema}"."{stream}_raw" (j jsonb)')
        conn.execute(f'create table "{schema}"."{stream}" ({typed}, primary key ({key}))')
        with conn.cursor().copy(
            f'copy "{schema}"."{stream}_raw" (j) from stdin '
            "with (format csv, quote e'\\x01', delimiter e'\\x02')"
        ) as copy:
            copy.write(data)
        conn.execute(
            f'insert into "{schema}"."{stream}" select {casts} from "{schema}"."{stream}_raw"'
        )


def copy_floor(messages: Path, dsn: str) -> dict:
    """The floor: the slowest single stream's COPY and typed insert (the streams are the same
    size; the floor is defined on one stream), and every stream's, one after another.
    """
    import psycopg  # the test extra's

    streams = read_streams(messages)
    schema = f"floor_{uuid.uuid4().hex[:8]}"
    per_stream: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
        try:
            for stream, (json_schema, keys, data) in streams.items():
                started = time.perf_counter()
                load_stream(conn, schema, stream, json_schema, keys, data)
                per_stream[stream] = round(time.perf_counter() - started, 2)
        finally:
            conn.execute(f'drop schema "{schema}" cascade')
    rows = sum(data.count(b"\n") for _, _, data in streams.values())
    return {
        "seconds": max(per_stream.values()),
        "all_streams_seconds": round(sum(per_stream.values()), 2),
        "per_stream": per_stream,
        "tree_pss_mb": 0.0,
        "rows": rows,
    }
