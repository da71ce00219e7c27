"""meltano for the tests: the project's meltano, its plugins installed once per session.

``meltano install`` of the tap and target-postgres takes a while even when nothing
changed, so it runs once per test session (:func:`installed_env`), whichever module
asks first; the meltano system database (state) is then a temporary file per test.
PostgreSQL is expected at 127.0.0.1:5432 (user postgres, trust, database test).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from tests.kit.must_run import require_module, require_path, unavailable
from tests.kit.paths import ROOT

if TYPE_CHECKING:
    from activities_upstream import LocalUpstream

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
TENANTS = ("tenant-a", "tenant-b", "tenant-c")  # meltano.yml's inherited plugins

_installed: dict[str, dict[str, str]] = {}


def check_postgres() -> None:
    """PostgreSQL answers and meltano is installed, or the test is unavailable."""
    psycopg = require_module("psycopg")
    try:
        with psycopg.connect(PG_DSN) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}".splitlines()[0])
    require_path(MELTANO)


def meltano_process(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """``meltano --environment=local ARGS`` in the project (or ``cwd``), output captured."""
    return subprocess.run(
        [str(MELTANO), "--environment=local", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_meltano(args: list[str], env: dict[str, str]) -> str:
    """``meltano ARGS``, which must succeed; its output."""
    result = meltano_process(args, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-6000:]}"
    return output


def installed_env(tmp_path_factory, *plugins: str) -> dict[str, str]:
    """meltano's environment, with the tap and target-postgres (and ``plugins``) installed.

    Each set of plugins is installed once per session; the environment holds none of
    the caller's TAP_* / TARGET_* variables.
    """
    key = " ".join(plugins)
    if key not in _installed:
        if plugins:
            env = dict(installed_env(tmp_path_factory))
            run_meltano(["install", *plugins], env)
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))}
            database = tmp_path_factory.mktemp("meltano-install") / "meltano.db"
            env["MELTANO_DATABASE_URI"] = f"sqlite:///{database}"
            run_meltano(["install", "tap-activities", "target-postgres"], env)
        _installed[key] = env
    return dict(_installed[key])


def upstream_env(up: LocalUpstream, prefix: str = "TAP_ACTIVITIES_") -> dict[str, str]:
    """The tap's settings for ``up`` (its whole date range) as meltano variables.

    ``prefix``: a plugin's, e.g. a tenant's ``TAP_ACTIVITIES__TENANT_A_``. Numbers go as
    text, the path users take.
    """
    return {
        prefix + "START_DATE": up.config.start.isoformat(),
        prefix + "END_DATE": up.config.end.isoformat(),
        prefix + "PEOPLEAI_API_URL": up.peopleai_url,
        prefix + "PEOPLEAI_CLIENT_ID": up.peopleai_client_id,
        prefix + "PEOPLEAI_CLIENT_SECRET": up.peopleai_client_secret,
        prefix + "CHARTMOGUL_API_URL": up.chartmogul_url,
        prefix + "CHARTMOGUL_API_KEY": up.chartmogul_api_key,
        prefix + "POLL_INTERVAL_SECONDS": "0.05",
    }


def tenant_plugins() -> list[str]:
    """The tenants' inherited extractors and loaders (meltano.yml)."""
    return [f"tap-activities--{t}" for t in TENANTS] + [f"target-postgres--{t}" for t in TENANTS]


def schema_of(tenant: str) -> str:
    """The tenant's PostgreSQL schema (meltano.yml: default_target_schema of its loader)."""
    return tenant.replace("-", "_")


def drop_schemas(*names: str) -> None:
    """Drop these PostgreSQL schemas and all they hold (absent ones are fine)."""
    psycopg = require_module("psycopg")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop schema if exists "{name}" cascade')


def drop_tenant_schemas() -> None:
    """Drop every tenant's schema, so a run starts from an empty database."""
    drop_schemas(*(schema_of(tenant) for tenant in TENANTS))
