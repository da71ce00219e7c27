"""target-postgres-batch (loaders/target_postgres_batch) stores exactly what target-postgres stores.

The loader is MeltanoLabs target-postgres 0.8.1 whose sink hands the tap's JSONL BATCH
files to PostgreSQL (COPY into jsonb, one INSERT … SELECT … ON CONFLICT) instead of reading
every record in Python. Proven here:

- through meltano, against the local upstream (People.ai: nested objects and arrays, CJK,
  emoji, escapes, date-times, fields added mid-run; ChartMogul: integer cents, a CSV column
  the schema does not know): the same upstream loaded by the stock target from RECORD
  messages and by this loader from the tap's BATCH files gives the same tables, column by
  column, types included, after a first run and after an incremental second run (changed
  rows updated in place, no duplicate key, a bookmark per stream in state); the loaded
  files are then pruned by orchestration/prune_batches.py like the stock target's;
- directly, on hand-made BATCH files both targets load: values at the edges of each type
  (decimals, exponents, nulls in arrays, missing fields, offsets, duplicate keys) give the
  stock target's rows on the fast path, and values the fast path would store otherwise
  (true into a text column, a number beyond 1e15) make it fall back to the target's own path,
  with the stock target's rows again;
- a truncated BATCH file fails the target with one error naming the file, no STATE is
  emitted, and nothing of that message is in the table.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import PG_DSN, drop_schemas, installed_env, run_meltano, upstream_env
from tests.kit.must_run import require_module, require_path
from tests.kit.paths import ROOT
from tests.kit.tap_process import batch_config
from tests.kit.upstream import END, START, fast_upstream_config
from tests.kit.warehouse import assert_same_keys

psycopg = require_module("psycopg")

LOADER = "target-postgres-batch"
TABLES = {f"peopleai_{kind}": "uid" for kind in PEOPLEAI_TYPES} | {
    f"chartmogul_{kind}": "uuid" for kind in CHARTMOGUL_TYPES
}
LOADERS = ROOT / ".meltano" / "loaders"
PRUNE = ROOT / "orchestration" / "prune_batches.py"


@pytest.fixture(scope="module")
def loader_env(pg_ready, tmp_path_factory) -> dict[str, str]:
    """meltano with the tap, target-postgres and target-postgres-batch installed."""
    return installed_env(tmp_path_factory, LOADER)


@pytest.fixture
def schemas(pg_ready):
    """Two fresh schema names (the stock target's, the loader's), dropped afterwards."""
    names = [f"tpb_test_{which}_{time.time_ns() % 10**9}" for which in ("stock", "fast")]
    yield names
    drop_schemas(*names)


def typed_rows(schema: str, table: str, key: str, sdc: bool = False) -> dict:
    """The table as {key: {column: (type, value as PostgreSQL writes it)}}.

    The text PostgreSQL writes for each value tells apart what Python would call equal
    (100 and 100.0 numerics, jsonb 1.50 and 1.5). Without ``sdc``, the _sdc_* columns
    (load times, set only on the RECORD path) are left out.
    """
    with psycopg.connect(PG_DSN) as conn:
        columns = conn.execute(
            "select attname::text, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (f'"{schema}"."{table}"',),
        ).fetchall()
        columns = sorted(c for c in columns if sdc or not c[0].startswith("_sdc_"))
        listed = ", ".join(f'"{name}"::text' for name, _ in columns)
        rows = conn.execute(f'select "{key}"::text, {listed} from "{schema}"."{table}"').fetchall()
    by_key = {
        row[0]: {name: (kind, value) for (name, kind), value in zip(columns, row[1:], strict=True)}
        for row in rows
    }
    assert len(by_key) == len(rows), f"{schema}.{table}: duplicate {key} values"
    return by_key


def assert_same_tables(stock: str, fast: str, up: LocalUpstream) -> dict:
    """Every table equal in both schemas, column by column and type by type; the rows."""
    loaded = {}
    for table, key in TABLES.items():
        want, got = typed_rows(stock, table, key), typed_rows(fast, table, key)
        assert_same_keys(set(got), set(want), table)
        differing = [k for k in want if got[k] != want[k]]
        if differing:
            first = differing[0]
            diff = {c: (want[first].get(c), got[first].get(c)) for c in want[first] | got[first]}
            diff = {c: v for c, v in diff.items() if v[0] != v[1]}
            pytest.fail(f"{table}: {len(differing)} rows differ, e.g. {first}: {diff}")
        loaded[table] = got
    return loaded


def upstream_keys(up: LocalUpstream) -> dict[str, set[str]]:
    keys = {
        f"peopleai_{k}": {r["uid"] for r in up.peopleai.records(k, START, END)}
        for k in PEOPLEAI_TYPES
    }
    for kind in CHARTMOGUL_TYPES:
        keys[f"chartmogul_{kind}"] = {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
    return keys


def test_batch_files_loaded_by_postgres_equal_the_stock_targets_records(
    loader_env, schemas, tmp_path
):
    stock_schema, fast_schema = schemas
    batches = tmp_path / "batches"
    batches.mkdir()
    with LocalUpstream(fast_upstream_config(start=START, end=END, peopleai_per_day=4)) as up:
        base = {
            **loader_env,
            **upstream_env(up),
            "TAP_ACTIVITIES_CHARTMOGUL_LOOKBACK_DAYS": "3",
        }
        stock = {
            **base,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/stock.db",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": stock_schema,
        }
        fast = {
            **base,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/fast.db",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": fast_schema,
            "TAP_ACTIVITIES_BATCH_CONFIG": json.dumps(batch_config(batches)),
        }

        def both_runs() -> str:
            run_meltano(["run", "tap-activities", "target-postgres"], stock)
            return run_meltano(["run", "tap-activities", LOADER], fast)

        log = both_runs()
        assert "COPY" in log, log[-3000:]
        assert "loaded the target's way" not in log, log[-3000:]
        first = assert_same_tables(stock_schema, fast_schema, up)
        for table, keys in upstream_keys(up).items():
            assert_same_keys(set(first[table]), keys, table)
        meetings = first["peopleai_meeting"]
        assert any(row["x_future_field"][1] for row in meetings.values()), "no field added mid-run"
        texts = [v for row in meetings.values() for _, v in row.values() if isinstance(v, str)]
        assert any(ord(ch) > 0xFFFF for text in texts for ch in text), "no emoji in the data"
        assert any("\\" in text and '"' in text for text in texts), "no escapes in the data"

        # The second run: changed rows upserted in place on both, new ones added.
        touched = set(up.peopleai.mutate(END, new=6, changed=6))
        touched |= set(up.chartmogul.mutate(END, new=4, changed=4))
        second_started = time.time()
        time.sleep(1.1)  # file times: the second run's files are after second_started
        log = both_runs()
        assert "loaded the target's way" not in log, log[-3000:]
        second = assert_same_tables(stock_schema, fast_schema, up)
        for table, keys in upstream_keys(up).items():
            assert_same_keys(set(second[table]), keys, table)
        moved = [k for t in first for k in first[t] if k in touched and second[t][k] != first[t][k]]
        assert moved, "no changed row was updated in place"
        assert not up.violations

    raw = run_meltano(["state", "get", f"local:tap-activities-to-{LOADER}"], fast)
    state = json.loads(next(line for line in raw.splitlines() if line.startswith("{")))
    assert sorted(state["singer_state"]["bookmarks"]) == sorted(TABLES)

    # The loader leaves the tap's files as the stock target does: the pruning step applies.
    before = {p.name for p in batches.iterdir()}
    assert before
    subprocess.run(
        ["python3", str(PRUNE), "--started", str(int(second_started)), f"file://{batches}"],
        check=True,
        capture_output=True,
    )
    after = {p.name for p in batches.iterdir()}
    assert after, "prune_batches deleted the last run's files"
    assert after < before, "prune_batches kept the first run's files"


# Direct runs of both targets on hand-made BATCH files.
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
}


def target(name: str) -> Path:
    return require_path(LOADERS / name / "venv" / "bin" / name, "meltano install")


def load(name: str, schema: str, files: list[Path], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run one target on a SCHEMA, a BATCH of ``files`` and a STATE message."""
    config = tmp_path / f"{name}.json"
    config.write_text(
        json.dumps(
            {
                "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "trust",
                "database": "test", "default_target_schema": schema, "use_copy": True,
                "validate_records": False, "add_record_metadata": True,
            }
        )
    )  # fmt: skip
    messages = [
        {"type": "SCHEMA", "stream": "edge", "schema": SCHEMA, "key_properties": ["id"]},
        {
            "type": "BATCH",
            "stream": "edge",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [f"file://{f}" for f in files],
        },
        {"type": "STATE", "value": {"bookmarks": {"edge": {"done": True}}}},
    ]
    return subprocess.run(
        [str(target(name)), "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_batch(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def both_targets(schemas: list[str], files: list[Path], tmp_path: Path) -> str:
    """Load ``files`` with the stock target and the loader; the loader's log."""
    stock, fast = schemas
    done = load("target-postgres", stock, files, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    done = load(LOADER, fast, files, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"bookmarks": {"edge": {"done": True}}}
    want, got = typed_rows(stock, "edge", "id", sdc=True), typed_rows(fast, "edge", "id", sdc=True)
    assert got == want
    return done.stderr


def test_edge_values_on_the_fast_path_are_the_stock_targets(loader_env, schemas, tmp_path):
    files = [write_batch(tmp_path / "edges-1.jsonl.gz", EDGES[:6])]
    files.append(write_batch(tmp_path / "edges-2.jsonl.gz", EDGES[6:]))
    log = both_targets(schemas, files, tmp_path)
    assert "BATCH message of edge: 15 records from 2 files, COPY" in log, log[-3000:]
    assert "loaded the target's way" not in log, log[-3000:]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_values_the_fast_path_would_store_otherwise_go_the_targets_way(
    loader_env, schemas, tmp_path, case
):
    files = [write_batch(tmp_path / "refused.jsonl.gz", [*EDGES[:4], REFUSED[case]])]
    stock, fast = schemas
    stock_done = load("target-postgres", stock, files, tmp_path)
    fast_done = load(LOADER, fast, files, tmp_path)
    assert "refused by the COPY fast path" in fast_done.stderr, fast_done.stderr[-3000:]
    # The target's own path decides: the same outcome, and the same rows if it loads.
    assert fast_done.returncode == stock_done.returncode, (stock_done.stderr[-2000:], case)
    if stock_done.returncode == 0:
        assert typed_rows(fast, "edge", "id", sdc=True) == typed_rows(stock, "edge", "id", sdc=True)


def test_a_truncated_batch_file_fails_with_one_error_and_no_state(loader_env, schemas, tmp_path):
    good = write_batch(tmp_path / "good.jsonl.gz", EDGES[:6])
    bad = write_batch(tmp_path / "bad.jsonl.gz", EDGES[6:] * 500)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    _, fast = schemas
    done = load(LOADER, fast, [good, bad], tmp_path)
    assert done.returncode != 0
    # The traceback's last line: the error, and what it was raised from, once each.
    errors = [line for line in done.stderr.splitlines() if line.startswith("target_postgres_batch")]
    assert len(errors) == 1, done.stderr[-3000:]
    said = f"target_postgres_batch.files.BatchFileError: BATCH file file://{bad} cannot be read"
    assert errors[0].startswith(said + ": Compressed file ended"), errors
    assert "refused by the COPY fast path" not in done.stderr
    assert not done.stdout.strip(), "a STATE message came out of a failed load"
    with psycopg.connect(PG_DSN) as conn:
        found = conn.execute(
            "select count(*) from information_schema.tables where table_schema = %s", (fast,)
        ).fetchone()[0]
        rows = conn.execute(f'select count(*) from "{fast}".edge').fetchone()[0] if found else 0
    assert rows == 0, "rows of the failed BATCH message were kept"
