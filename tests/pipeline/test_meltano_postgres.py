"""`meltano run tap-activities target-postgres` into a real PostgreSQL, twice.

The first run loads the history into a fresh schema; the upstream then gains new activities
and changes some old ones; the second run (from meltano's saved state) must add the new rows,
update the changed ones in place (no duplicate keys) and leave every other row as it was.
It runs in RECORD mode and in BATCH mode (jsonl.gz files handed to the target).

PostgreSQL is expected at 127.0.0.1:5432 (user postgres, trust, database test). Under
``CI=true`` an unreachable server fails the test; elsewhere it is skipped with the reason.
Plugins are installed by meltano into the project's ``.meltano/`` and reused between runs;
the meltano system database (state) is a temporary file per test.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import run_meltano, upstream_env
from tests.kit.must_run import require_module
from tests.kit.tap_process import batch_config
from tests.kit.upstream import fast_upstream_config
from tests.kit.warehouse import column_types, snapshot

psycopg = require_module("psycopg")

START = dt.date(2024, 1, 1)
END = dt.date(2024, 1, 20)


def check_drift_columns(schema: str, loaded: dict, up: LocalUpstream) -> None:
    """Fields the upstream added reached PostgreSQL as typed columns, holding their values.

    Timestamps the upstream wrote without an offset are UTC: the column holds that instant.
    """
    for kind in PEOPLEAI_TYPES:
        table = f"peopleai_{kind}"
        types = column_types(schema, table)
        assert types["x_future_field"] == "jsonb", types
        assert types["x_engagement_score"] in {"numeric", "double precision"}, types
        # target-postgres 0.8.1 makes date-times "timestamp without time zone", in UTC.
        assert types["timestamp"].startswith("timestamp"), types
        for record in up.peopleai.records(kind, START, END):
            row = loaded[table][record["uid"]]
            assert row["x_future_field"] == record.get("x_future_field")
            score = record.get("x_engagement_score")
            assert (row["x_engagement_score"] is None) == (score is None)
            if score is not None:
                assert float(row["x_engagement_score"]) == pytest.approx(score)
            stamp = dt.datetime.fromisoformat(record["timestamp"].removesuffix("Z"))
            loaded_stamp = row["timestamp"]
            if loaded_stamp.tzinfo is not None:
                loaded_stamp = loaded_stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
            assert loaded_stamp == stamp, record["uid"]
    for kind in CHARTMOGUL_TYPES:
        assert column_types(schema, f"chartmogul_{kind}")["custom_note"] in {
            "text",
            "character varying",
        }


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_two_runs_into_postgres_add_new_and_update_changed_rows(
    meltano_env, schema, mode, tmp_path
):
    upstream_config = fast_upstream_config(start=START, end=END, peopleai_per_day=4)
    with LocalUpstream(upstream_config) as up:
        env = {
            **meltano_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TAP_ACTIVITIES_CHARTMOGUL_LOOKBACK_DAYS": "3",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        }
        if mode == "batch":
            batches = tmp_path / "batches"
            batches.mkdir()
            env["TAP_ACTIVITIES_BATCH_CONFIG"] = json.dumps(
                batch_config(batches, prefix="activities-")
            )

        run_meltano(["run", "tap-activities", "target-postgres"], env)
        if mode == "batch":
            files = sorted(p.name for p in batches.iterdir())
            assert files, "BATCH mode wrote no batch files"
            assert all(n.startswith("activities-") and n.endswith(".json.gz") for n in files)
        first = snapshot(schema)
        for kind in PEOPLEAI_TYPES:
            want = {r["uid"]: r for r in up.peopleai.records(kind, START, END)}
            got = first[f"peopleai_{kind}"]
            assert set(got) == set(want), kind
            for uid, record in want.items():
                assert got[uid]["subject"] == record["subject"]
                assert got[uid]["source_id"] == record["source_id"]
        for kind in CHARTMOGUL_TYPES:
            want = {r["uuid"]: r for r in up.chartmogul.rows(kind, START, END)}
            got = first[f"chartmogul_{kind}"]
            assert set(got) == set(want), kind
            for key, row in want.items():
                assert got[key]["activity_mrr"] == int(row["activity-mrr"])
                assert got[key]["description"] == (row["description"] or None)  # "" is null
                # A CSV column the schema does not know arrives as a column of its own.
                assert got[key]["custom_note"] == (row["custom-note"] or None)
        check_drift_columns(schema, first, up)

        touched = set(up.peopleai.mutate(END, new=9, changed=6))
        touched |= set(up.chartmogul.mutate(END, new=5, changed=5))
        run_meltano(["run", "tap-activities", "target-postgres"], env)
        second = snapshot(schema)

        for kind in PEOPLEAI_TYPES:
            table = f"peopleai_{kind}"
            want = {r["uid"]: r for r in up.peopleai.records(kind, START, END)}
            assert set(second[table]) == set(first[table]) | set(want), table
            for uid, row in second[table].items():
                if uid in touched:
                    assert row["subject"] == want[uid]["subject"]
                else:
                    assert row == first[table][uid], f"{table} {uid} moved"
        for kind in CHARTMOGUL_TYPES:
            table = f"chartmogul_{kind}"
            want = {r["uuid"]: r for r in up.chartmogul.rows(kind, START, END)}
            assert set(second[table]) == set(want), table
            for key, row in second[table].items():
                if key in touched:
                    assert row["activity_mrr"] == int(want[key]["activity-mrr"])
                    assert row["description"] == (want[key]["description"] or None)
                else:
                    assert row == first[table][key], f"{table} {key} moved"
        changed = [
            uid
            for uid in touched
            for table in second
            if uid in first[table] and second[table].get(uid) != first[table][uid]
        ]
        new = [uid for uid in touched if not any(uid in first[t] for t in first)]
        assert changed, "no changed row was updated in place"
        assert new, "no new activity arrived"
        assert not up.violations
