"""Airflow 3 DAG: meltano pipelines per tenant, in parallel, the tenants read from a JSON file.

What it runs: for every pipeline of every tenant in the tenants file, one task that runs,
in the meltano project directory::

    orchestration/run_pipeline.sh <pipeline>

that is ``meltano --environment=<env> run tap-activities--<pipeline> target-postgres--<pipeline>``
(an inherited extractor and loader of meltano.yml) and, once that run succeeded, the
deletion of the BATCH files its earlier runs left (``orchestration/prune_batches.py``;
docs/production/pruning.md). A tenant is one pipeline (``tap-activities--<tenant>``,
docs/production/tenants.md) or several at once (parallel pipelines: one per People.ai stream
and one for ChartMogul, e.g. ``tap-activities--peopleai-email``), grouped under the
tenant's name. The tasks do not depend on each other and run at the same time: each
pipeline has its own extractor (its own catalog file, run directory and state id), its own
loader process and its own batch directory. ``max_active_runs=1`` keeps a pipeline from
overlapping with itself, which meltano does not allow (two runs of one extractor share its
catalog file). The tap keeps its own bookmarks in meltano's state, so the DAG ignores the
logical date and does not catch up; a failed task is retried (``retries`` times, 5 minutes
apart) from that state, and the loader upserts by key, so a retry adds no duplicate rows.

The tenants file (``tenants.json`` beside this file unless ``TAP_ACTIVITIES_TENANTS_FILE``
names another) is a JSON list with one object per tenant::

    [{"name": "tenant-a"},
     {"name": "acme", "pipelines": ["peopleai-email", "peopleai-meeting", "peopleai-call",
                                    "chartmogul"]}]

``name`` and each pipeline (lower-case letters, digits and dashes) must match a pair of
plugins in meltano.yml: ``tap-activities--<pipeline>`` and ``target-postgres--<pipeline>``;
without ``pipelines`` the tenant's one pipeline is its name. Other keys are refused, so a
typo does not pass silently. A tenant's task id is its name, or ``<name>.<pipeline>``.

Deploying: install meltano and the project (``meltano install``) where the Airflow workers
run, copy this file and the tenants file into the Airflow dags folder, and set, for the
dag processor and the workers (they both parse this file):

- ``MELTANO_PROJECT_ROOT``: the meltano project directory, holding ``orchestration/``
  (default: the repository this file lies in, two levels up, right only in a checkout);
- ``MELTANO_BIN``: the meltano executable (default ``meltano`` on ``PATH``);
- ``MELTANO_ENVIRONMENT``: the meltano environment (default ``prod``);
- ``TAP_ACTIVITIES_TENANTS_FILE``: the tenants file (default ``tenants.json`` beside this);
- ``TAP_ACTIVITIES_TASK_RETRIES``: retries of a failed task (default 2; tests use 0);
- each tenant's secrets, as meltano's variables for its plugins, e.g.
  ``TAP_ACTIVITIES__TENANT_A_PEOPLEAI_CLIENT_ID``: the tasks inherit the worker's
  environment and meltano reads them there (or use meltano's ``.env`` in the project).

Meltano's system database must exist before pipelines run side by side (``meltano install``
creates it); in production point ``MELTANO_DATABASE_URI`` at PostgreSQL, not SQLite. So
must the target schema of a tenant's parallel pipelines (``CREATE SCHEMA`` once): loaders
starting at the same moment race on PostgreSQL's ``CREATE SCHEMA IF NOT EXISTS``.
``tests/services/test_airflow_dag.py`` loads this DAG with Airflow's ``DagBag`` and runs it with
``airflow dags test`` on two tenants into PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, TaskGroup

DAG_ID = "tap_activities_tenants"
HERE = Path(__file__).resolve().parent
TENANT_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
KEYS = {"name", "pipelines"}


def tenants_file() -> Path:
    """The tenants file: ``TAP_ACTIVITIES_TENANTS_FILE``, else ``tenants.json`` beside this."""
    return Path(os.environ.get("TAP_ACTIVITIES_TENANTS_FILE") or HERE / "tenants.json")


def load_tenants(path: Path) -> dict[str, list[str] | None]:
    """Tenants from the tenants file, in order, each with its pipelines (None: its name).

    A malformed file raises ``ValueError``: the DAG is then an import error in Airflow,
    with this message, rather than a DAG that silently runs fewer pipelines.
    """
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty JSON list of tenants")
    tenants: dict[str, list[str] | None] = {}
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry or set(entry) - KEYS:
            raise ValueError(
                f'{path}: each tenant must be {{"name": "...", "pipelines": [...]}} '
                f"(pipelines optional), got {entry!r}"
            )
        name = _checked_name(path, entry["name"], "tenant name")
        if name in tenants:
            raise ValueError(f"{path}: tenant {name!r} is listed twice")
        pipelines = entry.get("pipelines")
        if pipelines is not None:
            if not isinstance(pipelines, list) or not pipelines:
                raise ValueError(f"{path}: tenant {name!r}: pipelines must be a non-empty list")
            pipelines = [_checked_name(path, p, "pipeline") for p in pipelines]
        for pipeline in pipelines or [name]:
            if pipeline in seen:  # one extractor must never run twice at once
                raise ValueError(f"{path}: pipeline {pipeline!r} is listed twice")
            seen.add(pipeline)
        tenants[name] = pipelines
    return tenants


def _checked_name(path: Path, name: object, what: str) -> str:
    if not isinstance(name, str) or not TENANT_NAME.fullmatch(name):
        raise ValueError(f"{path}: {what} {name!r} is not lower-case-with-dashes")
    return name


def pipeline_command(pipeline: str, project_root: str) -> str:
    """The shell command that runs one pipeline (its inherited plugins), then prunes."""
    return shlex.join([str(Path(project_root) / "orchestration" / "run_pipeline.sh"), pipeline])


def build_dag() -> DAG:
    """The DAG with one independent task per pipeline of every tenant of the tenants file."""
    project_root = os.environ.get("MELTANO_PROJECT_ROOT") or str(HERE.parent.parent)
    run_env = {
        "MELTANO_BIN": os.environ.get("MELTANO_BIN") or "meltano",
        "MELTANO_ENVIRONMENT": os.environ.get("MELTANO_ENVIRONMENT") or "prod",
        "MELTANO_PROJECT_ROOT": project_root,
    }
    retries = int(os.environ.get("TAP_ACTIVITIES_TASK_RETRIES") or "2")
    with DAG(
        dag_id=DAG_ID,
        description="tap-activities into PostgreSQL with meltano, pipelines per tenant at once",
        schedule="@daily",
        start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,  # the tap resumes from its own state, not from logical dates
        max_active_runs=1,  # one extractor must not run twice at once (shared catalog)
        default_args={"retries": retries, "retry_delay": dt.timedelta(minutes=5)},
        tags=["tap-activities", "meltano"],
        doc_md=__doc__,
    ) as dag:
        for tenant, pipelines in load_tenants(tenants_file()).items():
            if pipelines is None:
                pipeline_task(tenant, project_root, run_env)
                continue
            with TaskGroup(group_id=tenant):
                for pipeline in pipelines:
                    pipeline_task(pipeline, project_root, run_env)
    return dag


def pipeline_task(pipeline: str, project_root: str, env: dict) -> BashOperator:
    """One pipeline's task: its meltano run, then the pruning of its batch directory."""
    return BashOperator(
        task_id=pipeline,  # in a tenant's task group: <tenant>.<pipeline>
        bash_command=pipeline_command(pipeline, project_root),
        env=env,
        append_env=True,  # the worker's environment too: PATH and the tenants' secrets
        cwd=project_root,
    )


dag = build_dag()
