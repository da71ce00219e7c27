"""One account through four pipelines at once, into PostgreSQL: meltano.yml's parallel layout.

The layout: one inherited extractor per People.ai stream and one for ChartMogul
(``tap-activities--peopleai-email`` … ``tap-activities--chartmogul``), each with its own
``select``, each into its own inherited loader (``target-postgres--peopleai-email`` …), all
into one schema. ``orchestration/run_pipelines.sh`` (the plain-shell recipe) starts them
together; each then runs ``orchestration/prune_batches.py`` on its own batch directory.

What is checked, on one upstream account with People.ai's real job limits (2 running, 10
queued), its jobs slow enough (6 s queued at least) that the three People.ai taps, each
asking for five yearly snapshot windows, want more than 10 jobs at once:

- the taps were refused with 429 (more job creations than jobs), waited and finished;
- every stream's rows are exactly the upstream's keys, no key twice;
- each pipeline's state id holds the bookmarks of its own streams only, at the end date;
- a second run from that state exports only the last window, adds the new rows, updates
  the changed ones in place and leaves every other row as it was;
- the batch directories keep only the last successful run's files.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import MELTANO, PG_DSN, run_meltano, upstream_env
from tests.kit.paths import ROOT
from tests.kit.upstream import fast_upstream_config
from tests.kit.warehouse import assert_same_keys, check_second_run, psycopg, snapshot

HISTORY = dt.date(2020, 1, 1)  # People.ai's start_date: five yearly snapshot windows a stream
START = dt.date(2024, 1, 1)  # ChartMogul's start_date
END = dt.date(2024, 2, 20)
PIPELINES = {  # pipeline -> the streams it selects (meltano.yml)
    "peopleai-email": ["peopleai_email"],
    "peopleai-meeting": ["peopleai_meeting"],
    "peopleai-call": ["peopleai_call"],
    "chartmogul": [f"chartmogul_{kind}" for kind in CHARTMOGUL_TYPES],
}
RECIPE = ROOT / "orchestration" / "run_pipelines.sh"
JOBS = "/pull/v1/export/activities/jobs"  # People.ai job creation


def plugin_env_prefix(plugin: str) -> str:
    """meltano's variable prefix: tap-activities--chartmogul -> TAP_ACTIVITIES__CHARTMOGUL_."""
    return plugin.upper().replace("-", "_") + "_"


@pytest.fixture
def pipeline_plugins(meltano_env):
    plugins = [f"tap-activities--{p}" for p in PIPELINES] + [
        f"target-postgres--{p}" for p in PIPELINES
    ]
    run_meltano(["install", *plugins], meltano_env)
    return meltano_env


def run_recipe(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(RECIPE)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    assert f"all {len(PIPELINES)} pipelines succeeded" in output, output[-4000:]
    return output


def job_creations(up: LocalUpstream) -> int:
    return sum(1 for r in up.requests_log if r.method == "POST" and r.path.endswith(JOBS))


def check_state(env: dict[str, str], end: dt.date) -> None:
    """Each pipeline's own state id holds its own streams' bookmarks, and no other stream's."""
    for pipeline, streams in PIPELINES.items():
        state_id = f"local:tap-activities--{pipeline}-to-target-postgres--{pipeline}"
        raw = run_meltano(["state", "get", state_id], env)
        state = json.loads(next(line for line in raw.splitlines() if line.startswith("{")))
        bookmarks = state["singer_state"]["bookmarks"]
        assert sorted(bookmarks) == sorted(streams), (pipeline, sorted(bookmarks))
        for stream in streams:
            entry = bookmarks[stream]
            assert dt.date.fromisoformat(entry["bookmark"][:10]) == end, (pipeline, entry)
            assert not entry.get("jobs"), (pipeline, entry)


def batch_files(root: Path) -> dict[str, set[str]]:
    return {p: {f.name for f in (root / p).iterdir()} for p in PIPELINES}


def test_four_pipelines_of_one_account_at_once(pipeline_plugins, schema, tmp_path):
    config = fast_upstream_config(
        start=HISTORY, end=END, peopleai_per_day=1, chartmogul_per_day=2, queue_seconds=6
    )
    batches = tmp_path / "batches"
    env = {
        **pipeline_plugins,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "MELTANO_BIN": str(MELTANO),
        "MELTANO_ENVIRONMENT": "local",
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,  # the parent's: every pipeline's
        "TAP_ACTIVITIES_CHARTMOGUL_LOOKBACK_DAYS": "3",
    }
    for pipeline in PIPELINES:
        (batches / pipeline).mkdir(parents=True)
        env[plugin_env_prefix(f"tap-activities--{pipeline}") + "BATCH_CONFIG"] = json.dumps(
            {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": f"file://{batches / pipeline}"},
            }
        )
    run_meltano(["state", "list"], env)  # the system database exists before runs overlap
    # So does the schema: loaders starting together race on CREATE SCHEMA IF NOT EXISTS
    # (PostgreSQL: duplicate key in pg_namespace), as the README says to do once.
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    with LocalUpstream(config) as up:
        env.update(upstream_env(up))  # one account, shared by every pipeline
        env["TAP_ACTIVITIES__CHARTMOGUL_START_DATE"] = START.isoformat()  # its own setting
        output = run_recipe(env)

        # The People.ai taps met the account's 10-queued-jobs limit and waited it out.
        first_jobs = up.peopleai.jobs()
        created = sorted((j["job_created_time"], j["activity_type"]) for j in first_jobs)
        assert job_creations(up) > len(first_jobs), f"no creation refused (429): {created}"
        assert up.peopleai.peak_open_jobs <= 10
        assert "export creation limited by the upstream" in output  # a tap said it waited
        first = snapshot(schema)
        for kind in PEOPLEAI_TYPES:
            want = {r["uid"] for r in up.peopleai.records(kind, HISTORY, END)}
            assert_same_keys(set(first[f"peopleai_{kind}"]), want, kind)
        for kind in CHARTMOGUL_TYPES:
            want = {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
            assert_same_keys(set(first[f"chartmogul_{kind}"]), want, kind)
        check_state(env, END)
        first_files = batch_files(batches)
        assert all(first_files.values()), first_files

        # A second night: new and changed activities on the last day, every pipeline again.
        touched = set(up.peopleai.mutate(END, new=6, changed=6))
        touched |= set(up.chartmogul.mutate(END, new=4, changed=4))
        run_recipe(env)
        second_jobs = up.peopleai.jobs()[len(first_jobs) :]
        # Incremental: each People.ai stream exported only its last window again.
        assert sorted(j["activity_type"] for j in second_jobs) == sorted(PEOPLEAI_TYPES)
        second = snapshot(schema)
        wanted = {
            f"peopleai_{k}": {r["uid"]: r for r in up.peopleai.records(k, HISTORY, END)}
            for k in PEOPLEAI_TYPES
        } | {
            f"chartmogul_{k}": {r["uuid"]: r for r in up.chartmogul.rows(k, START, END)}
            for k in CHARTMOGUL_TYPES
        }
        check_second_run(first, second, wanted, touched)
        check_state(env, END)
        assert not up.violations

    # Pruned after the second run: the first run's files are gone, the second's are there.
    second_files = batch_files(batches)
    for pipeline in PIPELINES:
        assert second_files[pipeline], pipeline
        assert not second_files[pipeline] & first_files[pipeline], pipeline
