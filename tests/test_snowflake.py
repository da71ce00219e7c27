"""`meltano run tap-activities target-snowflake` against a local Snowflake (fakesnow).

The loader is MeltanoLabs target-snowflake 0.20.4 through ``loaders/target_snowflake_fake``:
the target's own settings, SCHEMA handling, table DDL, type mapping, casts and key handling,
with only its connection and its stage SQL changed for the fake. So this proves what the
tap sends (schemas, keys, values, new fields) against the real target's DDL and casts; it
does not prove the target's own stage SQL (PUT to @~, MERGE from a stage with QUALIFY),
which only a real Snowflake runs.

Checked in RECORD and BATCH mode: rows per table equal the upstream's keys; nested objects
are VARIANT and readable by path; a second run from state upserts (new rows in, changed
rows updated, no duplicate key); fields the upstream added arrive as columns.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.conftest import END, START, fast_upstream_config
from tests.test_meltano_postgres import (  # the fixtures: meltano and installed plugins
    IN_CI,
    ROOT,
    meltano_env,  # noqa: F401
    pg_ready,  # noqa: F401
    run_meltano,
    upstream_env,
)

FAKESNOW = ROOT / ".venv-fakesnow" / "bin"
DATABASE = "ACTIVITIES"


class Snowflake:
    """A fakesnow server on 127.0.0.1, and SQL against it with the real connector."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, sql: str) -> list[tuple]:
        script = (
            "import json, sys, snowflake.connector\n"
            "c = snowflake.connector.connect(user='fake', password='fake', account='fake',"
            f" host='127.0.0.1', port={self.port}, protocol='http', network_timeout=30,"
            " session_parameters={'CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED': False})\n"
            "cur = c.cursor(); cur.execute(sys.argv[1])\n"
            "print(json.dumps(cur.fetchall(), default=str))\n"
        )
        done = subprocess.run(
            [str(FAKESNOW / "python"), "-c", script, sql],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return [tuple(row) for row in json.loads(done.stdout.splitlines()[-1])]


@pytest.fixture(scope="module")
def snowflake():
    if not (FAKESNOW / "fakesnow").exists():
        reason = f"{FAKESNOW / 'fakesnow'} is missing; `make test` installs it"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the Snowflake round trip must run)")
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(FAKESNOW / "fakesnow"), "-s", "-p", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        fake = Snowflake(port)
        fake.query(f"create database if not exists {DATABASE}")
        yield fake
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.fixture(scope="module")
def snowflake_env(meltano_env, snowflake):  # noqa: F811 - the imported fixture
    run_meltano(["install", "loader", "target-snowflake-fake"], meltano_env)
    return {**meltano_env, "FAKESNOW_HOST": "127.0.0.1", "FAKESNOW_PORT": str(snowflake.port)}


def keys_in(snowflake: Snowflake, schema: str, table: str, key: str) -> list[str]:
    return [r[0] for r in snowflake.query(f"select {key} from {DATABASE}.{schema}.{table}")]


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_two_runs_into_snowflake(snowflake_env, snowflake, tmp_path, mode):
    schema = f"T_{uuid.uuid4().hex[:8].upper()}"
    with LocalUpstream(fast_upstream_config(start=START, end=END, peopleai_per_day=4)) as up:
        env = {
            **snowflake_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TARGET_SNOWFLAKE_FAKE_DEFAULT_TARGET_SCHEMA": schema,
        }
        if mode == "batch":
            (tmp_path / "batches").mkdir()
            env["TAP_ACTIVITIES_BATCH_CONFIG"] = json.dumps(
                {
                    "encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": f"file://{tmp_path / 'batches'}"},
                }
            )
        run_meltano(["run", "tap-activities", "target-snowflake-fake"], env)
        for kind in PEOPLEAI_TYPES:
            loaded = keys_in(snowflake, schema, f"peopleai_{kind}", "uid")
            assert sorted(loaded) == sorted(r["uid"] for r in up.peopleai.records(kind, START, END))
        for kind in CHARTMOGUL_TYPES:
            loaded = keys_in(snowflake, schema, f"chartmogul_{kind}", "uuid")
            assert sorted(loaded) == sorted(r["uuid"] for r in up.chartmogul.rows(kind, START, END))

        # Nested objects are VARIANT, readable by path; new upstream fields are columns.
        columns = dict(
            snowflake.query(
                "select column_name, data_type from "
                f"{DATABASE}.information_schema.columns where table_schema = '{schema}' "
                "and table_name = 'PEOPLEAI_MEETING'"
            )
        )
        assert columns["PARTICIPANTS"] == "VARIANT"
        assert columns["CRM_STATUS"] == "VARIANT"
        assert columns["X_FUTURE_FIELD"] == "VARIANT"
        assert columns["X_ENGAGEMENT_SCORE"] in {"FLOAT", "NUMBER"}
        meetings = {r["uid"]: r for r in up.peopleai.records("meeting", START, END)}
        by_path = snowflake.query(
            "select uid, participants[0]:name::varchar, crm_status:account:name::varchar, "
            f"x_future_field:note::varchar from {DATABASE}.{schema}.peopleai_meeting"
        )
        for uid, first_name, account, note in by_path:
            record = meetings[uid]
            assert first_name == record["participants"][0]["name"]
            assert account == record["crm_status"]["account"]["name"]
            assert note == (record.get("x_future_field") or {}).get("note")
        notes = snowflake.query(
            f"select count(custom_note) from {DATABASE}.{schema}.chartmogul_churn"
        )
        churn = up.chartmogul.rows("churn", START, END)
        assert notes[0][0] == sum(1 for r in churn if r["custom-note"])

        # A second run from meltano's state: new rows in, changed rows updated, no duplicate.
        touched = up.peopleai.mutate(END, new=6, changed=3)
        run_meltano(["run", "tap-activities", "target-snowflake-fake"], env)
        for kind in PEOPLEAI_TYPES:
            loaded = keys_in(snowflake, schema, f"peopleai_{kind}", "uid")
            assert len(loaded) == len(set(loaded)), f"{kind}: duplicate keys after the upsert"
            assert set(loaded) == {r["uid"] for r in up.peopleai.records(kind, START, END)}
        subjects = dict(
            snowflake.query(
                f"select uid, subject from {DATABASE}.{schema}.peopleai_email union all "
                f"select uid, subject from {DATABASE}.{schema}.peopleai_meeting union all "
                f"select uid, subject from {DATABASE}.{schema}.peopleai_call"
            )
        )
        changed = [uid for uid in touched if "(updated" in subjects.get(uid, "")]
        assert changed, "no changed row was updated in place"
