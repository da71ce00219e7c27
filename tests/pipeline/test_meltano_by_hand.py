"""Meltano by hand, as the README tells a new user: a fresh clone, then `make upstream`.

In a fresh clone (no upstream, no TAP_ACTIVITIES_* variables) `meltano select --list`
works from the `local` environment's settings and shows no traceback. With the local
upstream started as `make upstream` starts it, `meltano invoke --discover` and
`meltano run tap-activities target-postgres` work with nothing else set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.kit.meltano_kit import PG_DSN, meltano_process
from tests.kit.must_run import require_module
from tests.kit.paths import ROOT

psycopg = require_module("psycopg")

PORTS = {"peopleai": 18401, "chartmogul": 18402, "files": 18403}


@pytest.fixture(scope="module")
def clean_env(meltano_env) -> dict[str, str]:
    """meltano's environment with no TAP_ACTIVITIES_* / TARGET_* variable (a fresh shell)."""
    return {k: v for k, v in meltano_env.items() if not k.startswith(("TAP_", "TARGET_"))}


@pytest.fixture
def hand_started_upstream():
    """The local upstream as `make upstream` runs it (same module and ports; quicker jobs)."""
    command = [sys.executable, "-m", "activities_upstream", "--job-delay", "0.2"]
    for name, port in PORTS.items():
        command += [f"--{name}-port", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    yield ready
    proc.terminate()
    proc.wait(timeout=10)


def test_meltano_select_list_works_in_a_fresh_clone(clean_env):
    result = meltano_process(["select", "tap-activities", "--list", "--all"], clean_env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    for stream in ("peopleai_email", "chartmogul_churn"):
        assert stream in output


def test_meltano_discover_and_run_against_make_upstream(clean_env, hand_started_upstream):
    makefile = (ROOT / "Makefile").read_text()
    for port in PORTS.values():  # the fixture serves what `make upstream` serves
        assert f"port {port}" in makefile
    discovered = meltano_process(["invoke", "tap-activities", "--discover"], clean_env)
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    catalog = json.loads(discovered.stdout[discovered.stdout.index("{") :])
    assert len(catalog["streams"]) == 8

    schema = f"tap_activities_hand_{uuid.uuid4().hex[:8]}"
    env = {
        **clean_env,
        "MELTANO_DATABASE_URI": f"sqlite:///{ROOT}/.meltano/hand-{os.getpid()}-{time.time_ns()}.db",
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
    try:
        ran = meltano_process(["run", "tap-activities", "target-postgres"], env)
        assert ran.returncode == 0, (ran.stdout + ran.stderr)[-4000:]
        with psycopg.connect(PG_DSN) as conn:
            rows = conn.execute(f'select count(*) from "{schema}".peopleai_email').fetchone()[0]
        assert rows > 0
    finally:
        Path(env["MELTANO_DATABASE_URI"].removeprefix("sqlite:///")).unlink(missing_ok=True)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
