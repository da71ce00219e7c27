"""Three tenants at once from one meltano project, into PostgreSQL, each in its own schema.

The layout is meltano.yml's: one inherited extractor per tenant (``tap-activities--tenant-a``
…) with its credentials in meltano's variables for that plugin, one inherited loader per
tenant for its schema. Each pipeline has its own state id and run directory, so the three
``meltano run`` overlap without touching each other's catalog, rows or state.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import MELTANO, TENANTS, run_meltano
from tests.kit.must_run import require_module
from tests.kit.paths import ROOT
from tests.kit.tenants import assert_rows_are_the_tenants_own, tenant_upstreams
from tests.kit.upstream import END

psycopg = require_module("psycopg")


def test_three_tenants_run_at_once_each_into_its_schema_with_its_state(tenant_plugins, tmp_path):
    env = {**tenant_plugins, "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db"}
    # The system database exists before the runs start, as after `meltano install`: three
    # runs creating it at the same moment would race on its migrations.
    run_meltano(["state", "list"], env)
    with tenant_upstreams(TENANTS, env) as upstreams:
        runs = {
            tenant: subprocess.Popen(
                [
                    str(MELTANO),
                    "--environment=local",
                    "run",
                    f"tap-activities--{tenant}",
                    f"target-postgres--{tenant}",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for tenant in TENANTS
        }
        outputs = {tenant: run.communicate(timeout=600)[0] for tenant, run in runs.items()}
        for tenant, run in runs.items():
            assert run.returncode == 0, f"{tenant}:\n{outputs[tenant][-4000:]}"

        for tenant, up in upstreams.items():
            assert_rows_are_the_tenants_own(tenant, up)

    # Each tenant's own state, under its own id: every stream bookmarked at the end date.
    for tenant in TENANTS:
        state_id = f"local:tap-activities--{tenant}-to-target-postgres--{tenant}"
        raw = run_meltano(["state", "get", state_id], env)
        state = json.loads(next(line for line in raw.splitlines() if line.startswith("{")))
        bookmarks = state["singer_state"]["bookmarks"]
        for kind in PEOPLEAI_TYPES:
            entry = bookmarks[f"peopleai_{kind}"]
            assert entry["bookmark"] == END.isoformat(), (tenant, entry)
            assert entry["mode"] == "delta"
            assert not entry.get("jobs")
        for kind in CHARTMOGUL_TYPES:
            assert dt.date.fromisoformat(bookmarks[f"chartmogul_{kind}"]["bookmark"]) == END
