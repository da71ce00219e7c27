"""Running the stock target and the loader in this process, and reading back their tables.

Both targets run in-process (``Target.listen`` on the messages), each on its own schema of
one PostgreSQL, so a test compares what each stored, cell by cell: every column's type and
every value as PostgreSQL writes it as text (which tells apart 100 and 100.0 numerics,
jsonb 1.50 and 1.5).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import signal
import typing as t
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_DSN = os.environ.get(
    "TPB_TEST_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
)


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (the test is part of the contract), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def connect():
    import psycopg

    return psycopg.connect(PG_DSN, autocommit=True)


def drop_schemas(*names: str) -> None:
    """Drop these schemas and all they hold (absent ones are fine)."""
    with connect() as conn:
        for name in names:
            conn.execute(f'drop schema if exists "{name}" cascade')


def target_config(schema: str, **settings: t.Any) -> dict:
    """A config of either target: the test database, ``schema``, and ``settings``."""
    params = dict(part.split("=", 1) for part in PG_DSN.split())
    return {
        "host": params.get("host", "127.0.0.1"),
        "port": int(params.get("port", 5432)),
        "user": params.get("user", "postgres"),
        "password": params.get("password", "trust"),
        "database": params.get("dbname", "test"),
        "default_target_schema": schema,
        "add_record_metadata": True,
        **settings,
    }


def write_batch(path: Path, lines: list[bytes | str], gzipped: bool = True) -> str:
    """A BATCH file of these lines (each ends with a newline); its file:// URL."""
    raw = b"".join(
        (line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")) + b"\n"
        for line in lines
    )
    path.write_bytes(gzip.compress(raw, compresslevel=1) if gzipped else raw)
    return f"file://{path}"


def batch_message(stream: str, urls: list[str], gzipped: bool = True) -> dict:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl", "compression": "gzip" if gzipped else "none"},
        "manifest": urls,
    }


@dataclass
class Run:
    """One target's run: its error (None if it ended well), STATE lines and log."""

    error: BaseException | None
    states: list[dict]
    log: str

    @property
    def failed(self) -> bool:
        return self.error is not None


def run_target(target_class: type, config: dict, messages: list[dict]) -> Run:
    """``target_class`` on ``messages``, in this process: what it emitted and logged."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stdout, log = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logging.getLogger(target_class.name).setLevel(logging.INFO)  # the loads' own lines
    error, target = None, None
    try:
        with contextlib.redirect_stdout(stdout):
            target = target_class(config=config)
            target.listen(io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
    except Exception as exc:  # the outcome to compare, whatever it is
        error = exc
    finally:
        close_connections(target)
        root.removeHandler(handler)
        for number, previous in handlers.items():
            signal.signal(number, previous)  # the SDK sets its own on each target
    states = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]
    return Run(error, states, log.getvalue())


def quoted(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def close_connections(target: t.Any) -> None:
    """Close what a target run in this process leaves open: its engines' pooled connections."""
    if target is None:
        return
    sinks = [*target._sinks_active.values(), *target._sinks_to_clear]
    for connector in {id(s.connector): s.connector for s in sinks}.values():
        connector._engine.dispose()
    if "target_connector" in vars(target):  # singer-sdk's SQLTarget caches one
        target.target_connector._engine.dispose()


def table_cells(
    schema: str, table: str, sdc: bool = True
) -> tuple[list[tuple[str, str]], list[tuple]] | None:
    """The table's columns (name, type) and its rows as text, sorted; None if no table.

    Without ``sdc`` the _sdc_* columns are left out: RECORD messages set load times there.
    """
    with connect() as conn:
        columns = conn.execute(
            "select attname::text, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped"
            " order by attname",
            (f'"{schema}"."{table}"',),
        ).fetchall()
        if not columns:
            return None
        columns = [c for c in columns if sdc or not c[0].startswith("_sdc_")]
        listed = ", ".join(quoted(name) + "::text" for name, _ in columns)
        rows = conn.execute(f'select {listed} from "{schema}"."{table}"').fetchall()
    return columns, sorted(rows, key=lambda row: [(v is None, v or "") for v in row])


def first_difference(stock, fast) -> str:
    """Where two table_cells() results differ, in a few words ('' if they do not)."""
    if stock == fast:
        return ""
    if stock is None or fast is None:
        return f"a table on one side only (stock {stock is not None}, fast {fast is not None})"
    if stock[0] != fast[0]:
        return f"columns differ: stock {stock[0]}, fast {fast[0]}"
    names = [name for name, _ in stock[0]]
    if len(stock[1]) != len(fast[1]):
        return f"{len(stock[1])} rows in the stock table, {len(fast[1])} in the fast one"
    for want, got in zip(stock[1], fast[1], strict=True):
        cells = {n: (w, g) for n, w, g in zip(names, want, got, strict=True) if w != g}
        if cells:
            shown = {n: (w[:80] if w else w, g[:80] if g else g) for n, (w, g) in cells.items()}
            return f"a row differs (stock, fast): {shown}"
    return "differ"
