"""The tap's BATCH files through target-postgres-batch equal its RECORDs through target-postgres.

This is the pipeline side of the loader (loaders/target_postgres_batch, whose own tests
prove it against the stock target on generated schemas and records): through meltano and
this repository's meltano.yml, against the local upstream (People.ai: nested objects and
arrays, CJK, emoji, escapes, date-times, fields added mid-run; ChartMogul: integer cents, a
CSV column the schema does not know), the same upstream loaded by the stock target from
RECORD messages and by the loader from the tap's BATCH files gives the same tables, column
by column, types included, after a first run and after an incremental second run (changed
rows updated in place, no duplicate key, a bookmark per stream in state); the loaded files
are then pruned by orchestration/prune_batches.py like the stock target's.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import (
    PG_DSN,
    ROOT,
    drop_schemas,
    installed_env,
    run_meltano,
    upstream_env,
)
from tests.kit.must_run import require_module
from tests.kit.tap_process import batch_config
from tests.kit.upstream import END, START, fast_upstream_config
from tests.kit.warehouse import assert_same_keys

psycopg = require_module("psycopg")

LOADER = "target-postgres-batch"
TABLES = {f"peopleai_{kind}": "uid" for kind in PEOPLEAI_TYPES} | {
    f"chartmogul_{kind}": "uuid" for kind in CHARTMOGUL_TYPES
}
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
