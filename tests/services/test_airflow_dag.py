"""The Airflow example DAG (orchestration/airflow/): parsed by Airflow, then run on two tenants.

Airflow lives in a virtualenv of its own (``.venv-airflow``, like meltano's: its pins must
not meet the tap's), so the tests drive it through subprocesses with its python and its
``airflow`` command, each with a throwaway ``AIRFLOW_HOME``:

- Airflow's ``DagBag`` loads the DAG: no import errors, one independent task per pipeline
  of the tenants file (a tenant's own, or its parallel pipelines in a task group), each
  running ``orchestration/run_pipeline.sh`` (``meltano run``, then pruning); a malformed
  tenants file is an import error that names the problem.
- ``airflow dags test`` runs the DAG (in process, tasks one after the other) on a tenants
  file of two tenants, each from its own local upstream, into PostgreSQL through meltano's
  ``local`` environment; each tenant's schema then holds exactly its upstream's rows.

Without the Airflow virtualenv (``make .venv-airflow/.installed``) the tests fail under
``CI=true`` and are skipped elsewhere; PostgreSQL and meltano are the meltano tests' fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.kit.meltano_kit import MELTANO, run_meltano
from tests.kit.must_run import require_path
from tests.kit.paths import ROOT
from tests.kit.tenants import assert_rows_are_the_tenants_own, tenant_upstreams

AIRFLOW_VENV = ROOT / ".venv-airflow"
AIRFLOW_PYTHON = AIRFLOW_VENV / "bin" / "python"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
DAG_FOLDER = ROOT / "orchestration" / "airflow"
DAG_ID = "tap_activities_tenants"
TENANTS = ("tenant-a", "tenant-b")  # two of meltano.yml's three

# Run by the Airflow virtualenv's python: load the dags folder the way Airflow does and
# write what it found as JSON (Airflow logs to stdout, so the result goes to a file).
DAGBAG_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get(sys.argv[2])
tasks = {
    task.task_id: {
        "bash_command": task.bash_command,
        "env": task.env,
        "append_env": task.append_env,
        "cwd": task.cwd,
        "retries": task.retries,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
    }
    for task in (dag.tasks if dag else [])
}
with open(sys.argv[3], "w") as out:
    json.dump(
        {
            "dag_ids": sorted(bag.dags),
            "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
            "max_active_runs": dag.max_active_runs if dag else None,
            "catchup": dag.catchup if dag else None,
            "tasks": tasks,
        },
        out,
    )
"""


@pytest.fixture(scope="module")
def airflow_ready() -> None:
    require_path(AIRFLOW, "`make .venv-airflow/.installed` installs Airflow")


def airflow_env(base: dict[str, str], home: Path, **extra: str) -> dict[str, str]:
    """``base`` without the caller's Airflow, meltano or DAG settings, plus a fresh Airflow."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith("AIRFLOW")
        and k not in {"MELTANO_PROJECT_ROOT", "MELTANO_BIN", "MELTANO_ENVIRONMENT"}
        and k not in {"TAP_ACTIVITIES_TENANTS_FILE", "TAP_ACTIVITIES_TASK_RETRIES"}
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "AIRFLOW_HOME": str(home),  # airflow.cfg, the SQLite database and task logs
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ beside the DAG
        }
    )
    env.update(extra)
    return env


def run_airflow(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args[:3])} failed:\n{output[-8000:]}"
    return output


def load_dagbag(env: dict[str, str], tmp_path: Path) -> dict:
    out = tmp_path / "dagbag.json"
    run_airflow([str(AIRFLOW_PYTHON), "-c", DAGBAG_SCRIPT, str(DAG_FOLDER), DAG_ID, str(out)], env)
    return json.loads(out.read_text())


def test_dagbag_loads_one_independent_meltano_task_per_pipeline(airflow_ready, tmp_path):
    env = airflow_env(dict(os.environ), tmp_path / "airflow")
    bag = load_dagbag(env, tmp_path)
    assert bag["import_errors"] == {}
    assert bag["dag_ids"] == [DAG_ID]
    assert bag["max_active_runs"] == 1
    assert bag["catchup"] is False
    tenants = json.loads((DAG_FOLDER / "tenants.json").read_text())
    assert [t["name"] for t in tenants] == ["tenant-a", "tenant-b", "tenant-c", "main"]
    # A tenant is one pipeline (its name) or, grouped under its name, several at once.
    pipelines = {"tenant-a": "tenant-a", "tenant-b": "tenant-b", "tenant-c": "tenant-c"}
    for name in ("peopleai-email", "peopleai-meeting", "peopleai-call", "chartmogul"):
        pipelines[f"main.{name}"] = name
    assert sorted(bag["tasks"]) == sorted(pipelines)
    for task_id, task in bag["tasks"].items():
        # The defaults: meltano on PATH, the prod environment, this repository's project.
        script = ROOT / "orchestration" / "run_pipeline.sh"
        assert task["bash_command"] == f"{script} {pipelines[task_id]}"
        assert task["env"] == {
            "MELTANO_BIN": "meltano",
            "MELTANO_ENVIRONMENT": "prod",
            "MELTANO_PROJECT_ROOT": str(ROOT),
        }
        assert task["append_env"] is True
        assert task["cwd"] == str(ROOT)
        assert task["retries"] == 2
        assert task["upstream"] == task["downstream"] == []


MALFORMED = [
    ([{"name": "tenant-a"}, {"name": "tenant-a"}], "tenant 'tenant-a' is listed twice"),
    # One extractor in two tasks would run twice at once: meltano forbids it.
    (
        [{"name": "x", "pipelines": ["chartmogul"]}, {"name": "y", "pipelines": ["chartmogul"]}],
        "pipeline 'chartmogul' is listed twice",
    ),
    ([{"name": "x", "pipelines": []}], "tenant 'x': pipelines must be a non-empty list"),
]


@pytest.mark.parametrize(("entries", "message"), MALFORMED)
def test_dagbag_reports_a_malformed_tenants_file_as_an_import_error(
    airflow_ready, tmp_path, entries, message
):
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(entries))
    env = airflow_env(
        dict(os.environ), tmp_path / "airflow", TAP_ACTIVITIES_TENANTS_FILE=str(tenants)
    )
    bag = load_dagbag(env, tmp_path)
    assert bag["dag_ids"] == []
    [error] = bag["import_errors"].values()
    # Airflow keeps the traceback; its last line is the DAG's own, word for word.
    assert error.splitlines()[-1] == f"ValueError: {tenants}: {message}"


def test_airflow_dags_test_runs_two_tenants_each_into_its_schema(
    airflow_ready,
    tenant_plugins,
    tmp_path,
):
    tenants_file = tmp_path / "tenants.json"
    tenants_file.write_text(json.dumps([{"name": t} for t in TENANTS]))
    env = airflow_env(
        tenant_plugins,
        tmp_path / "airflow",
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path}/meltano.db",
        MELTANO_ENVIRONMENT="local",
        MELTANO_PROJECT_ROOT=str(ROOT),
        MELTANO_BIN=str(MELTANO),
        TAP_ACTIVITIES_TENANTS_FILE=str(tenants_file),
        TAP_ACTIVITIES_TASK_RETRIES="0",  # a failure fails now, not after 2 x 5 minutes
    )
    # meltano's system database exists before the tenants run, as after `meltano install`.
    run_meltano(["state", "list"], env)
    # Airflow's own database: `dags test` refuses to start without it.
    run_airflow([str(AIRFLOW), "db", "migrate"], env)

    with tenant_upstreams(TENANTS, env) as upstreams:
        output = run_airflow([str(AIRFLOW), "dags", "test", DAG_ID], env, timeout=900)
        for tenant in TENANTS:
            assert f"[DAG TEST] end task task_id={tenant} " in output, output[-8000:]
            assert f"run_pipeline.sh {tenant}" in output

        for tenant, up in upstreams.items():
            assert_rows_are_the_tenants_own(tenant, up)

    # Each tenant's pipeline saved its own state under the local environment's id.
    states = run_meltano(["state", "list"], env)
    for tenant in TENANTS:
        assert f"local:tap-activities--{tenant}-to-target-postgres--{tenant}" in states
