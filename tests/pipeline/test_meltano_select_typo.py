"""A typo in `meltano select` fails the run loudly instead of loading nothing, night after night.

``meltano select tap-activities peopleai_emial "*"`` writes a rule that matches no stream;
meltano then hands the tap a catalog with every stream deselected. Run as a user runs it
(the rule written by `meltano select` itself, into a copy of this project's meltano.yml
that shares its installed plugins), `meltano invoke` and `meltano run` must exit non-zero
with the tap's line, export nothing and save no state.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from activities_upstream import LocalUpstream
from tests.kit.meltano_kit import MELTANO, PG_DSN, meltano_process, upstream_env
from tests.kit.must_run import require_module
from tests.kit.paths import ROOT
from tests.kit.upstream import fast_upstream_config

psycopg = require_module("psycopg")

LINE = "tap-activities: error: The catalog selects none of the tap's streams"


@pytest.fixture
def project(tmp_path, meltano_env) -> Path:
    """A copy of this project's meltano.yml whose `.meltano` is the installed one."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "meltano.yml", root / "meltano.yml")
    (root / ".meltano").symlink_to(ROOT / ".meltano")
    return root


def test_a_select_typo_fails_meltano_invoke_and_run_with_one_line(project, meltano_env, tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        schema = f"tap_activities_typo_{uuid.uuid4().hex[:8]}"
        env = {
            **meltano_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        }
        typo = subprocess.run(
            [str(MELTANO), "select", "tap-activities", "peopleai_emial", "*"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert typo.returncode == 0, typo.stderr[-3000:]  # meltano accepts any rule
        extractor = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
        (tap,) = [p for p in extractor["extractors"] if p["name"] == "tap-activities"]
        assert tap["select"] == ["peopleai_emial.*"]

        invoked = meltano_process(["invoke", "tap-activities"], env, cwd=project)
        assert invoked.returncode != 0
        assert LINE in invoked.stderr, invoked.stderr[-3000:]
        assert "meltano select tap-activities --list" in invoked.stderr
        assert '"type":"RECORD"' not in invoked.stdout.replace(" ", "")

        ran = meltano_process(["run", "tap-activities", "target-postgres"], env, cwd=project)
        output = ran.stdout + ran.stderr
        assert ran.returncode != 0, output[-3000:]
        assert LINE in output, output[-3000:]
        assert "peopleai_email, peopleai_meeting" in output.replace("\n", "")
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == []
        states = meltano_process(["state", "list"], env, cwd=project)
        assert states.returncode == 0, states.stderr[-3000:]
        assert "tap-activities" not in states.stdout, "a run that selected nothing saved state"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            found = conn.execute(
                "select count(*) from information_schema.schemata where schema_name = %s",
                (schema,),
            ).fetchone()[0]
            conn.execute(f'drop schema if exists "{schema}" cascade')
        assert found == 0
