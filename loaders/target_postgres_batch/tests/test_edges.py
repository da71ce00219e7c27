"""Hand-picked edges: the fast path stores the stock target's rows, or gives the message back.

The generated cases are in test_fuzz.py; these are the values the loader was written
around, kept as named cases: values at the edges of each type (decimals, exponents, nulls
in arrays, missing fields, offsets, duplicate keys) give the stock target's rows on the
fast path, and values the fast path would store otherwise (true into a text column, a
number beyond 1e15) make it give the message to the target's own path, with the stock
target's rows again. A truncated BATCH file fails the target's command with one error
naming the file, no STATE is emitted, and nothing of that message is in the table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from target_postgres.target import TargetPostgres

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

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "s": {"type": ["string", "null"]},
        "ts": {"type": ["string", "null"], "format": "date-time"},
        "i": {"type": ["integer", "null"]},
        "n": {"type": ["number", "null"]},
        "b": {"type": ["boolean", "null"]},
        "o": {"type": ["object", "null"], "properties": {}},
        "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "objs": {"type": ["array", "null"], "items": {"type": ["object", "null"]}},
    },
}
EDGES = [
    r'{"id":"a","s":"first a","n":1}',
    r'{"id":"b","s":"h\u00e9llo 世界 😀 \"q\" \\ \n\t","ts":"2024-01-01T10:00:00.123456Z","i":5,'
    r'"n":1.10,"b":true,"o":{"x":1.50,"y":[1,null,"z"],"e":"😀"},"tags":["a",null,"c"],'
    r'"objs":[{"k":1},null,{"k":"v"}]}',
    r'{"id":"c","s":null,"ts":null,"i":null,"n":null,"b":null,"o":null,"tags":null,"objs":null}',
    r'{"id":"d"}',
    r'{"id":"e","n":1E+2,"i":-9007199254740993,"tags":[],"objs":[],"o":{},"s":"",'
    r'"ts":"2024-03-01T23:59:59+02:00"}',
    r'{"id":"f","n":0.000000000000000000001,"b":false,"ts":"2024-01-01","extra":"x"}',
    r'{"id":"g","o":{"d":1.50,"big":123456789012345678901234567890.123,"neg":-0.0},'
    r'"n":12345678901234.5}',
    r'{"id":"h","n":1e14}',
    r'{"id":"i","n":-0.0}',
    r'{"id":"j","n":5e-300}',
    r'{"id":"k","n":0.30000000000000004,"i":0}',
    r'{"id":"l","n":0.1000000000000000055511151231257827}',
    r'{"id":"m","n":-123456789012345.67}',
    r'{"id":"n","n":0.8444218515250481}',
    r'{"id":"a","s":"the last a wins","n":0.1}',
]
# Each makes the fast path give the message to the target's own path.
REFUSED = {
    "true into text": r'{"id":"r1","s":true}',
    "number into text": r'{"id":"r2","s":1E+2}',
    "string into boolean": r'{"id":"r3","b":"yes"}',
    "a number beyond 1e15": r'{"id":"r4","n":1e15}',
    "a number below 1e-300": r'{"id":"r8","n":2.2250738585072014e-308}',
    "an object into an array": r'{"id":"r5","tags":{"a":1}}',
    "a number in a text[]": r'{"id":"r6","tags":["a",5]}',
    "NUL in a string": r'{"id":"r7","s":"a\u0000b"}',
    "an integer written with an exponent": r'{"id":"r9","i":1e2}',
    "a blank line": "",
    "a record nested 600 levels deep": '{"id":"r10","o":{"d":' + "[" * 600 + "]" * 600 + "}}",
}


CONFIG = {"use_copy": True, "validate_records": False}


def messages(files: list[str]) -> list[dict]:
    return [
        {"type": "SCHEMA", "stream": "edge", "schema": SCHEMA, "key_properties": ["id"]},
        batch_message("edge", files),
        {"type": "STATE", "value": {"bookmarks": {"edge": {"done": True}}}},
    ]


def both_targets(schemas, files: list[str], use_copy: bool = True):
    """Load ``files`` with the stock target and the loader: both runs."""
    stock_schema, fast_schema = schemas
    config = {**CONFIG, "use_copy": use_copy}
    stock = run_target(TargetPostgres, target_config(stock_schema, **config), messages(files))
    fast = run_target(TargetPostgresBatch, target_config(fast_schema, **config), messages(files))
    return stock, fast


@pytest.mark.parametrize("use_copy", [True, False])
def test_edge_values_on_the_fast_path_are_the_stock_targets(schemas, tmp_path, use_copy):
    files = [write_batch(tmp_path / "edges-1.jsonl.gz", EDGES[:6])]
    files.append(write_batch(tmp_path / "edges-2.jsonl.gz", EDGES[6:]))
    stock, fast = both_targets(schemas, files, use_copy)
    assert (stock.error, fast.error) == (None, None)
    assert fast.states == stock.states == [{"bookmarks": {"edge": {"done": True}}}]
    assert "BATCH message of edge: 15 records from 2 files, COPY" in fast.log, fast.log[-3000:]
    assert "the target's way" not in fast.log, fast.log[-3000:]
    cells = [table_cells(schema, "edge") for schema in schemas]
    assert not first_difference(*cells)
    assert len(cells[1][1]) == 14


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_values_the_fast_path_would_store_otherwise_go_the_targets_way(schemas, tmp_path, case):
    files = [write_batch(tmp_path / "refused.jsonl.gz", [*EDGES[:4], REFUSED[case]])]
    stock, fast = both_targets(schemas, files)
    assert "refused by the COPY fast path" in fast.log, fast.log[-3000:]
    # The target's own path decides: the same outcome, and the same rows if it loads.
    assert fast.failed == stock.failed, (stock.error, fast.error)
    if not stock.failed:
        assert not first_difference(*(table_cells(schema, "edge") for schema in schemas))


def test_a_truncated_batch_file_fails_the_command_with_one_error_and_no_state(schemas, tmp_path):
    good = write_batch(tmp_path / "good.jsonl.gz", EDGES[:6])
    bad_url = write_batch(tmp_path / "bad.jsonl.gz", EDGES[6:] * 500)
    bad = Path(bad_url.removeprefix("file://"))
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    _, fast = schemas
    config = tmp_path / "config.json"
    config.write_text(json.dumps(target_config(fast, **CONFIG)))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "target-postgres-batch"), "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages([good, bad_url])),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    # The traceback's last line: the error, and what it was raised from, once each.
    errors = [line for line in done.stderr.splitlines() if line.startswith("target_postgres_batch")]
    assert len(errors) == 1, done.stderr[-3000:]
    said = f"target_postgres_batch.files.BatchFileError: BATCH file {bad_url} cannot be read"
    assert errors[0].startswith(said + ": Compressed file ended"), errors
    assert "refused by the COPY fast path" not in done.stderr
    assert not done.stdout.strip(), "a STATE message came out of a failed load"
    with connect() as conn:
        rows = conn.execute(
            "select count(*) from pg_tables where schemaname = %s and tablename = 'edge'", (fast,)
        ).fetchone()[0]
        if rows:
            rows = conn.execute(f'select count(*) from "{fast}".edge').fetchone()[0]
    assert rows == 0, "rows of the failed BATCH message were kept"
