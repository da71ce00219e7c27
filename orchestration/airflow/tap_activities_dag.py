"""Airflow 3 DAG: one ``meltano run`` task per tenant, the tenants read from a JSON file.

What it runs: for every tenant in the tenants file, one task that runs, in the meltano
project directory::

    meltano --environment=<env> run tap-activities--<tenant> target-postgres--<tenant>

that is the tenant's inherited extractor and loader from meltano.yml ("Many tenants" in the
README). The tasks do not depend on each other and may run at the same time: each tenant
has its own extractor (its own catalog file, run directory and state id) and its own
schema. ``max_active_runs=1`` keeps a tenant's pipeline from overlapping with itself, which
meltano does not allow (two runs of one extractor share its catalog file). The tap keeps
its own bookmarks in meltano's state, so the DAG ignores the logical date and does not
catch up; a failed task is retried (``retries`` times, 5 minutes apart) from that state,
and the loader upserts by key, so a retry adds no duplicate rows.

The tenants file (``tenants.json`` beside this file unless ``TAP_ACTIVITIES_TENANTS_FILE``
names another) is a JSON list with one object per tenant::

    [{"name": "tenant-a"}, {"name": "tenant-b"}]

``name`` (lower-case letters, digits and dashes) must match a pair of plugins in
meltano.yml: ``tap-activities--<name>`` and ``target-postgres--<name>``. Other keys are
refused, so a typo does not pass silently. The task id is the name.

Deploying: install meltano and the project (``meltano install``) where the Airflow workers
run, copy this file and the tenants file into the Airflow dags folder, and set, for the
dag processor and the workers (they both parse this file):

- ``MELTANO_PROJECT_ROOT``: the meltano project directory (default: the repository this
  file lies in, two levels up, which is right only in a checkout);
- ``MELTANO_BIN``: the meltano executable (default ``meltano`` on ``PATH``);
- ``MELTANO_ENVIRONMENT``: the meltano environment (default ``prod``);
- ``TAP_ACTIVITIES_TENANTS_FILE``: the tenants file (default ``tenants.json`` beside this);
- ``TAP_ACTIVITIES_TASK_RETRIES``: retries of a failed task (default 2; tests use 0);
- each tenant's secrets, as meltano's variables for its plugins, e.g.
  ``TAP_ACTIVITIES__TENANT_A_PEOPLEAI_CLIENT_ID``: the tasks inherit the worker's
  environment and meltano reads them there (or use meltano's ``.env`` in the project).

Meltano's system database must exist before tenants run side by side (``meltano install``
creates it); in production point ``MELTANO_DATABASE_URI`` at PostgreSQL, not SQLite.
``tests/test_airflow_dag.py`` loads this DAG with Airflow's ``DagBag`` and runs it with
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
from airflow.sdk import DAG

DAG_ID = "tap_activities_tenants"
HERE = Path(__file__).resolve().parent
TENANT_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tenants_file() -> Path:
    """The tenants file: ``TAP_ACTIVITIES_TENANTS_FILE``, else ``tenants.json`` beside this."""
    return Path(os.environ.get("TAP_ACTIVITIES_TENANTS_FILE") or HERE / "tenants.json")


def load_tenants(path: Path) -> list[str]:
    """Tenant names from the tenants file, in order; a malformed file raises ``ValueError``.

    Raising makes the DAG an import error in Airflow, with this message, rather than a DAG
    that silently runs fewer tenants.
    """
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty JSON list of tenants")
    names: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"name"}:
            raise ValueError(f'{path}: each tenant must be {{"name": "..."}}, got {entry!r}')
        name = entry["name"]
        if not isinstance(name, str) or not TENANT_NAME.fullmatch(name):
            raise ValueError(f"{path}: tenant name {name!r} is not lower-case-with-dashes")
        if name in names:
            raise ValueError(f"{path}: tenant {name!r} is listed twice")
        names.append(name)
    return names


def meltano_command(tenant: str, *, meltano: str, environment: str) -> str:
    """The shell command that runs one tenant's pipeline (its inherited plugins)."""
    return shlex.join(
        [
            meltano,
            f"--environment={environment}",
            "run",
            f"tap-activities--{tenant}",
            f"target-postgres--{tenant}",
        ]
    )


def build_dag() -> DAG:
    """The DAG with one independent task per tenant of the tenants file."""
    project_root = os.environ.get("MELTANO_PROJECT_ROOT") or str(HERE.parent.parent)
    meltano = os.environ.get("MELTANO_BIN") or "meltano"
    environment = os.environ.get("MELTANO_ENVIRONMENT") or "prod"
    retries = int(os.environ.get("TAP_ACTIVITIES_TASK_RETRIES") or "2")
    with DAG(
        dag_id=DAG_ID,
        description="tap-activities into PostgreSQL with meltano, one task per tenant",
        schedule="@daily",
        start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,  # the tap resumes from its own state, not from logical dates
        max_active_runs=1,  # one extractor must not run twice at once (shared catalog)
        default_args={"retries": retries, "retry_delay": dt.timedelta(minutes=5)},
        tags=["tap-activities", "meltano"],
        doc_md=__doc__,
    ) as dag:
        for tenant in load_tenants(tenants_file()):
            BashOperator(
                task_id=tenant,
                bash_command=meltano_command(tenant, meltano=meltano, environment=environment),
                cwd=project_root,
            )
    return dag


dag = build_dag()
