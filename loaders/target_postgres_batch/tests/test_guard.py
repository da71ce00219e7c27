"""Each private name the loader relies on, renamed or removed as a future release might.

guard.py checks them when the target starts. A renamed handler is simulated the way a
singer-sdk release would do it: the SDK's dispatcher (``process_lines``, ``drain_all``) is
recompiled from its own source with the new name, and the handler moves to that name, so
the loader's override is left in place but never called. The run must then take the stock
target's path, with one warning naming the change, and store the stock target's rows. A
missing connection or file helper must stop the target before it reads any input.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import pytest
from singer_sdk import plugin_base, target_base
from singer_sdk.helpers import _batch
from singer_sdk.sql import SQLConnector
from target_postgres.connector import PostgresConnector
from target_postgres.target import TargetPostgres

from target_postgres_batch import guard
from target_postgres_batch.target import TargetPostgresBatch
from tests.kit import (
    batch_message,
    connect,
    first_difference,
    run_target,
    table_cells,
    target_config,
    write_batch,
)

DISPATCHERS = {
    "_process_schema_message": (plugin_base.BaseSingerReader, "process_lines"),
    "_process_record_message": (plugin_base.BaseSingerReader, "process_lines"),
    "_process_activate_version_message": (plugin_base.BaseSingerReader, "process_lines"),
    "_write_state_message": (target_base.Target, "drain_all"),
}
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "n": {"type": ["integer", "null"]}},
}


def rename_in_sdk(monkeypatch, old: str, new: str, keep_old: bool = False) -> None:
    """singer-sdk as a release that renamed the handler ``old`` to ``new`` would be.

    ``keep_old``: the old name stays as an alias nothing calls any more (a deprecation).
    """
    owner, dispatcher = DISPATCHERS[old]
    function = getattr(owner, dispatcher)
    source = textwrap.dedent(inspect.getsource(function)).replace(f"self.{old}", f"self.{new}")
    namespace: dict = {}
    module = sys.modules[function.__module__]
    exec(compile(source, inspect.getsourcefile(function), "exec"), vars(module), namespace)
    monkeypatch.setattr(owner, dispatcher, namespace[dispatcher])
    for cls in (target_base.Target, plugin_base.BaseSingerReader):
        if old in vars(cls):
            monkeypatch.setattr(cls, new, vars(cls)[old], raising=False)
            if not keep_old:
                monkeypatch.delattr(cls, old)


def test_the_installed_packages_have_every_name():
    assert guard.check() == []


@pytest.mark.parametrize("handler", sorted(DISPATCHERS))
def test_a_renamed_handler_makes_the_run_take_the_stock_path(
    handler, monkeypatch, schemas, tmp_path
):
    rename_in_sdk(monkeypatch, handler, handler.replace("_process_", "_handle_") + "_v2")
    findings = guard.check()
    assert [(f.name, f.action) for f in findings] == [(handler, guard.STOCK)]
    assert findings[0].problem == f"singer-sdk's Target has no {handler}"

    url = write_batch(tmp_path / "b.jsonl.gz", ['{"id": "a", "n": 1}', '{"id": "b", "n": 2}'])
    messages = [
        {"type": "SCHEMA", "stream": "g", "schema": SCHEMA, "key_properties": ["id"]},
        batch_message("g", [url]),
        {"type": "RECORD", "stream": "g", "record": {"id": "c", "n": 3}},
        {"type": "STATE", "value": {"bookmarks": {"g": {"n": 3}}}},
    ]
    stock_schema, fast_schema = schemas
    stock = run_target(TargetPostgres, target_config(stock_schema), messages)
    fast = run_target(TargetPostgresBatch, target_config(fast_schema), messages)
    assert (stock.error, fast.error) == (None, None)
    warnings = [line for line in fast.log.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, fast.log
    assert handler in warnings[0]
    assert "loads every BATCH message the stock target's way" in warnings[0]
    assert ", COPY " not in fast.log
    assert "2 records from 1 files the target's way" in fast.log
    assert fast.states == stock.states == [{"bookmarks": {"g": {"n": 3}}}]
    cells = [table_cells(schema, "g", sdc=False) for schema in schemas]
    assert not first_difference(*cells)
    assert [row[0] for row in cells[1][1]] == ["a", "b", "c"]


@pytest.mark.parametrize("handler", sorted(DISPATCHERS))
def test_a_handler_the_sdk_no_longer_calls_makes_the_run_take_the_stock_path(handler, monkeypatch):
    rename_in_sdk(monkeypatch, handler, handler + "_v2", keep_old=True)
    (finding,) = guard.check()
    assert (finding.name, finding.action) == (handler, guard.STOCK)
    assert finding.problem.endswith(f"no longer calls {handler}")


def test_a_handler_with_other_parameters_makes_the_run_take_the_stock_path(monkeypatch):
    def changed(self, state, *, flush=True): ...

    monkeypatch.setattr(target_base.Target, "_write_state_message", changed)
    (finding,) = guard.check()
    assert finding.action == guard.STOCK
    assert "takes (self, state, flush), not (self, state)" in finding.problem


def test_a_removed_handler_makes_the_run_take_the_stock_path(monkeypatch):
    monkeypatch.delattr(target_base.Target, "_process_activate_version_message")
    monkeypatch.delattr(plugin_base.BaseSingerReader, "_process_activate_version_message")
    (finding,) = guard.check()
    assert finding.action == guard.STOCK
    assert finding.problem == "singer-sdk's Target has no _process_activate_version_message"


def test_without_connect_the_target_stops_before_reading_input(monkeypatch):
    monkeypatch.delattr(PostgresConnector, "_connect")  # target-postgres's own
    monkeypatch.delattr(SQLConnector, "_connect")  # and singer-sdk's, which it overrides
    with pytest.raises(guard.GuardError, match="PostgresConnector has no _connect"):
        TargetPostgresBatch(config=target_config("tpb_never_created"))


def test_without_storage_target_the_target_stops(monkeypatch):
    monkeypatch.delattr(_batch, "StorageTarget")
    with pytest.raises(guard.GuardError, match=r"singer-sdk has no helpers\._batch\.StorageTarget"):
        TargetPostgresBatch(config=target_config("tpb_never_created"))


@pytest.mark.parametrize("method", guard.STORAGE_METHODS)
def test_a_storage_target_without_a_method_stops_the_target(monkeypatch, method):
    renamed = type("StorageTarget", (_batch.StorageTarget,), {method: None})
    monkeypatch.setattr(_batch, "StorageTarget", renamed)
    with pytest.raises(guard.GuardError, match=f"StorageTarget lacks {method}"):
        TargetPostgresBatch(config=target_config("tpb_never_created"))


def test_the_command_stops_with_one_error_and_reads_nothing(pg_ready, tmp_path):
    """As a user sees it: exit status 1, one error line, no table made from the input."""
    config = tmp_path / "config.json"
    schema = "tpb_test_guard_stop"
    config.write_text(json.dumps(target_config(schema)))
    url = write_batch(tmp_path / "b.jsonl.gz", ['{"id": "a", "n": 1}'])
    messages = [
        {"type": "SCHEMA", "stream": "g", "schema": SCHEMA, "key_properties": ["id"]},
        batch_message("g", [url]),
    ]
    program = (
        "import sys; from target_postgres.connector import PostgresConnector;"
        "from singer_sdk.sql import SQLConnector;"
        "del PostgresConnector._connect, SQLConnector._connect;"
        "from target_postgres_batch.target import TargetPostgresBatch;"
        "sys.argv[0] = 'target-postgres-batch'; TargetPostgresBatch.cli()"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "target-postgres-batch cannot load with singer-sdk" in errors[0]
    assert "Traceback" not in done.stderr
    assert not done.stdout
    with connect() as conn:
        found = conn.execute(
            "select count(*) from pg_namespace where nspname = %s", (schema,)
        ).fetchone()[0]
    assert found == 0, "the target touched the database before stopping"
