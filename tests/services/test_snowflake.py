"""`meltano run tap-activities target-snowflake` against a local Snowflake (fakesnow).

The loader is MeltanoLabs target-snowflake 0.20.4 through ``loaders/target_snowflake_fake``:
the target's own load path, statements included (PUT to ``@~``, MERGE from the stage with
``file_format =>`` and ``QUALIFY … SEQ8()``, REMOVE, DROP FILE FORMAT), with only the
statements fakesnow lacks rewritten at the cursor into what they mean (a directory standing
for the user stage, DuckDB's ``read_json_objects`` over the staged files). So in BATCH mode
this proves that the tap's own files, byte for byte as the tap wrote them, are what the
target's MERGE loads; what it cannot prove is Snowflake's own reading of them.

Checked in RECORD and BATCH mode: rows per table equal the upstream's keys; the staged
files' lines per stream equal the upstream's records, and in BATCH mode they are the tap's
files, deleted once loaded (``clean_up_batch_files``) and removed from the stage; nested
objects are VARIANT and readable by path; fields the upstream added arrive as columns; a
second run from state (People.ai and ChartMogul) adds the new rows, updates every changed
row in place and leaves every other row as it was, with no duplicate key.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import run_meltano, upstream_env
from tests.kit.must_run import IN_CI
from tests.kit.paths import ROOT
from tests.kit.upstream import END, START, fast_upstream_config
from tests.kit.warehouse import assert_same_keys, check_second_run

FAKESNOW = ROOT / ".venv-fakesnow" / "bin"
DATABASE = "ACTIVITIES"


class Snowflake:
    """A fakesnow server on 127.0.0.1, and SQL against it with the real connector."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, sql: str) -> list[tuple]:
        return [tuple(row.values()) for row in self.rows(sql)]

    def rows(self, sql: str) -> list[dict]:
        """Rows as dicts, their column names lower-case (values JSON-able, else text)."""
        script = (
            "import json, sys, snowflake.connector\n"
            "c = snowflake.connector.connect(user='fake', password='fake', account='fake',"
            f" host='127.0.0.1', port={self.port}, protocol='http', network_timeout=30,"
            " session_parameters={'CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED': False})\n"
            "cur = c.cursor(); cur.execute(sys.argv[1])\n"
            "names = [d[0].lower() for d in cur.description]\n"
            "print(json.dumps([dict(zip(names, r)) for r in cur.fetchall()], default=str))\n"
        )
        done = subprocess.run(
            [str(FAKESNOW / "python"), "-c", script, sql],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.splitlines()[-1])


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
def snowflake_env(meltano_env, snowflake):
    run_meltano(["install", "loader", "target-snowflake-fake"], meltano_env)
    return {**meltano_env, "FAKESNOW_HOST": "127.0.0.1", "FAKESNOW_PORT": str(snowflake.port)}


TABLES = {f"peopleai_{kind}": "uid" for kind in PEOPLEAI_TYPES} | {
    f"chartmogul_{kind}": "uuid" for kind in CHARTMOGUL_TYPES
}
STAGED = re.compile(r"^@~/target-snowflake/(?P<stream>[a-z_]+)-[0-9a-f-]{36}/(?P<name>[^/]+)$")
TAP_FILE = re.compile(
    r"^activities-tap-activities--(?P<stream>[a-z_]+)-[0-9a-f-]{36}-\d+\.json\.gz$"
)


def keys_in(snowflake: Snowflake, schema: str, table: str, key: str) -> list[str]:
    return [r[0] for r in snowflake.query(f"select {key} from {DATABASE}.{schema}.{table}")]


def snapshot(snowflake: Snowflake, schema: str) -> dict[str, dict[str, dict]]:
    """Every table's rows by key, without the _sdc_* columns; fails on a duplicate key."""
    tables = {}
    for table, key in TABLES.items():
        rows = snowflake.rows(f"select * from {DATABASE}.{schema}.{table}")
        by_key = {
            row[key]: {k: v for k, v in row.items() if not k.startswith("_sdc_")} for row in rows
        }
        assert len(by_key) == len(rows), f"{table}: duplicate {key} values"
        tables[table] = by_key
    return tables


def upstream_rows(up: LocalUpstream) -> dict[str, dict[str, dict]]:
    """What the upstream holds now, per table and key."""
    tables = {
        f"peopleai_{k}": {r["uid"]: r for r in up.peopleai.records(k, START, END)}
        for k in PEOPLEAI_TYPES
    }
    for kind in CHARTMOGUL_TYPES:
        tables[f"chartmogul_{kind}"] = {r["uuid"]: r for r in up.chartmogul.rows(kind, START, END)}
    return tables


def check_staging(log: Path, stage: Path, batches: Path | None, up: LocalUpstream) -> None:
    """The staged files' lines are the upstream's records; the tap's own files, in BATCH mode.

    Every staged file was removed from the stage again, and in BATCH mode every file the
    tap wrote was deleted once loaded (``clean_up_batch_files``).
    """
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    puts = [e for e in entries if "put" in e]
    removed = {name for e in entries if "remove" in e for name in e["names"]}
    lines: dict[str, int] = {}
    for put in puts:
        staged = STAGED.match(put["stage"])
        assert staged, put
        lines[staged["stream"]] = lines.get(staged["stream"], 0) + put["lines"]
        assert put["stage"].removeprefix("@~/") in removed, f"not removed: {put['stage']}"
        if batches is not None:  # the file PUT is the tap's own, from its storage root
            source = Path(put["put"].removeprefix("file://"))
            assert source.parent == batches, put
            written = TAP_FILE.match(source.name)
            assert written, put
            assert written["stream"] == staged["stream"], put
    want = {table: len(rows) for table, rows in upstream_rows(up).items()}
    assert lines == want
    assert not [p for p in stage.rglob("*") if p.is_file()], "files left in the stage"
    if batches is not None:
        assert not list(batches.iterdir()), "loaded BATCH files were not deleted"


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_two_runs_into_snowflake(snowflake_env, snowflake, tmp_path, mode):
    schema = f"T_{uuid.uuid4().hex[:8].upper()}"
    batches = tmp_path / "batches" if mode == "batch" else None
    with LocalUpstream(fast_upstream_config(start=START, end=END, peopleai_per_day=4)) as up:
        env = {
            **snowflake_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TARGET_SNOWFLAKE_FAKE_DEFAULT_TARGET_SCHEMA": schema,
            "TAP_ACTIVITIES_CHARTMOGUL_LOOKBACK_DAYS": "3",
            "FAKESNOW_STAGE_DIR": str(tmp_path / "stage"),
            "FAKESNOW_STAGE_LOG": str(tmp_path / "stage.log"),
        }
        if batches is not None:
            batches.mkdir()
            env["TAP_ACTIVITIES_BATCH_CONFIG"] = json.dumps(
                {
                    "encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": f"file://{batches}", "prefix": "activities-"},
                }
            )
        run_meltano(["run", "tap-activities", "target-snowflake-fake"], env)
        check_staging(tmp_path / "stage.log", tmp_path / "stage", batches, up)
        first = snapshot(snowflake, schema)
        for table, want in upstream_rows(up).items():
            assert_same_keys(set(first[table]), set(want), table)

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
        assert len(by_path) == len(meetings)
        for uid, first_name, account, note in by_path:
            record = meetings[uid]
            assert first_name == record["participants"][0]["name"]
            assert account == record["crm_status"]["account"]["name"]
            assert note == (record.get("x_future_field") or {}).get("note")
        assert any(r.get("x_future_field") for r in meetings.values()), "no new field to see"
        notes = snowflake.query(
            f"select count(custom_note) from {DATABASE}.{schema}.chartmogul_churn"
        )
        churn = up.chartmogul.rows("churn", START, END)
        assert notes[0][0] == sum(1 for r in churn if r["custom-note"]) > 0

        # A second run from meltano's state: new rows in, changed rows updated, no duplicate,
        # every other row as it was.
        touched = set(up.peopleai.mutate(END, new=6, changed=6))
        touched |= set(up.chartmogul.mutate(END, new=4, changed=4))
        (tmp_path / "stage.log").unlink()
        run_meltano(["run", "tap-activities", "target-snowflake-fake"], env)
        second = snapshot(snowflake, schema)
        check_second_run(first, second, upstream_rows(up), touched)
        assert not up.violations
