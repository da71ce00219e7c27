"""What the loaders left in PostgreSQL: rows by key, held against what was there before."""

from __future__ import annotations

import pytest

from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import PG_DSN
from tests.kit.must_run import require_module

psycopg = require_module("psycopg")


def table_rows(schema: str, table: str, key: str) -> dict[str, dict]:
    """Every row of a table by key; fails if a key appears twice."""
    with psycopg.connect(PG_DSN) as conn:
        cursor = conn.execute(f'select * from "{schema}"."{table}"')
        names = [c.name for c in cursor.description]
        # _sdc_* columns (load time, sequence) change on every upsert; the data must not.
        rows = [
            {n: v for n, v in zip(names, row, strict=True) if not n.startswith("_sdc_")}
            for row in cursor.fetchall()
        ]
    by_key = {row[key]: row for row in rows}
    assert len(by_key) == len(rows), f"{table}: duplicate {key} values"
    return by_key


def snapshot(schema: str) -> dict[str, dict[str, dict]]:
    tables = {f"peopleai_{kind}": "uid" for kind in PEOPLEAI_TYPES}
    tables.update({f"chartmogul_{kind}": "uuid" for kind in CHARTMOGUL_TYPES})
    return {table: table_rows(schema, table, key) for table, key in tables.items()}


def column_types(schema: str, table: str) -> dict[str, str]:
    with psycopg.connect(PG_DSN) as conn:
        rows = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s",
            (schema, table),
        ).fetchall()
    return dict(rows)


def assert_same_keys(got: set, want: set, what: str) -> None:
    """Equal key sets, told in a few words (pytest's diff of thousands of keys takes minutes)."""
    missing, extra = sorted(want - got), sorted(got - want)
    told = f"{what}: {len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}"
    if missing or extra:  # not an assert: pytest would diff thousands of keys for minutes
        pytest.fail(told)


def check_second_run(first: dict, second: dict, wanted: dict, touched: set[str]) -> None:
    """After a second run from state: every upstream key once; touched rows as the upstream
    has them now (People.ai subject, ChartMogul MRR); every other row exactly as before;
    rows changed in place in both sources, and new ones arrived.
    """
    for table, want in wanted.items():
        assert_same_keys(set(second[table]), set(want), table)
        for key, row in second[table].items():
            if key not in touched:
                assert row == first[table][key], f"{table} {key} moved"
            elif table.startswith("peopleai_"):
                assert row["subject"] == want[key]["subject"], (table, key)
            else:
                assert row["activity_mrr"] == int(want[key]["activity-mrr"]), (table, key)
    changed = {
        t.split("_")[0]
        for t in first
        for k in touched
        if k in first[t] and second[t][k] != first[t][k]
    }
    assert changed == {"peopleai", "chartmogul"}, "changed rows were not updated in place"
    assert touched - {k for t in first for k in first[t]}, "no new activity arrived"
