"""The Meltano plugin definition users add, checked against the target and run in a fresh project.

``plugin/loaders/target-postgres-batch.yml`` must declare every setting the target takes
(meltano passes a TARGET_POSTGRES_BATCH_* variable only for a declared one), with the kind
of its JSON schema, and the target's capabilities. Then, from where a user stands:
``meltano init``, ``meltano add target-postgres-batch --from-ref`` of that file (its
``pip_url`` pointed at a wheel built from this folder: what ``pip install`` would give),
``meltano install``, and a load through ``meltano invoke`` of a SCHEMA, a BATCH file and
a STATE, configured only by environment variables. Meltano is kept off the Hub (its URL
points at a closed port), so nothing here can need it.

meltano itself comes from ``MELTANO`` (the repository's ``make test`` points it at its
own meltano virtualenv), else from PATH.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from target_postgres_batch.target import TargetPostgresBatch
from tests.kit import (
    batch_message,
    drop_schemas,
    table_cells,
    target_config,
    unavailable,
    write_batch,
)

PACKAGE = Path(__file__).resolve().parent.parent
DEFINITION = PACKAGE / "plugin" / "loaders" / "target-postgres-batch.yml"
KINDS = {"string": "string", "boolean": "boolean", "integer": "integer", "object": "object"}


@pytest.fixture(scope="module")
def definition() -> dict:
    return yaml.safe_load(DEFINITION.read_text())


def target_settings() -> dict:
    schema = copy.deepcopy(TargetPostgresBatch.config_jsonschema)
    TargetPostgresBatch.append_builtin_config(schema)
    return schema["properties"]


def test_every_setting_of_the_target_is_declared_with_its_kind(definition):
    declared = {s["name"]: s["kind"] for s in definition["settings"]}
    wanted = {}
    for name, prop in target_settings().items():
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        wanted[name] = KINDS[next(t for t in types if t != "null")]
    assert declared == wanted


def test_secrets_are_sensitive(definition):
    sensitive = {s["name"] for s in definition["settings"] if s.get("sensitive")}
    assert sensitive == {"password", "sqlalchemy_url", "ssl_client_private_key", "ssh_tunnel"}


def test_capabilities_are_the_targets(definition):
    about = subprocess.run(
        [str(Path(sys.executable).parent / "target-postgres-batch"), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert definition["capabilities"] == json.loads(about.stdout)["capabilities"]


def test_pip_url_and_executable_are_this_package(definition):
    # Not on PyPI yet: the definition installs this folder of the repository at a tag.
    assert re.fullmatch(
        r"git\+https://github\.com/[\w.-]+/tap-activities\.git@v[\d.]+"
        r"#subdirectory=loaders/target_postgres_batch",
        definition["pip_url"],
    ), definition["pip_url"]
    assert definition["executable"] == "target-postgres-batch"


def meltano_command() -> str:
    found = os.environ.get("MELTANO") or shutil.which("meltano")
    if not found or not Path(found).exists():
        unavailable("meltano is not installed (set MELTANO to its command; make test does)")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(PACKAGE)],
        capture_output=True,
        check=True,
    )
    (found,) = out.glob("target_postgres_batch-*.whl")
    return found


def test_a_fresh_project_adds_the_definition_and_loads(pg_ready, wheel, tmp_path):
    meltano = meltano_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env |= {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_HUB_URL": "http://127.0.0.1:9"}

    def run(*args: str, cwd: Path, extra: dict | None = None, stdin: str | None = None) -> str:
        done = subprocess.run(
            [meltano, *args],
            cwd=cwd,
            env={**env, **(extra or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stderr[-4000:]}"
        return done.stdout + done.stderr

    run("init", "night", "--no_usage_stats", cwd=tmp_path)
    project = tmp_path / "night"
    # The user's copy of the file, its pip_url pointed at the wheel built here.
    local = tmp_path / "target-postgres-batch.yml"
    local.write_text(re.sub(r"(?m)^pip_url: .*$", f"pip_url: {wheel}", DEFINITION.read_text()))
    # The plugin named alone, as the README says: meltano 4 reads "add loader NAME" as two
    # plugins and adds the definition a second time, as a utility.
    added = run("add", "target-postgres-batch", "--from-ref", str(local), cwd=project)
    assert "Added loader 'target-postgres-batch'" in added
    assert "utility" not in added
    assert "utilities" not in yaml.safe_load((project / "meltano.yml").read_text())["plugins"]

    schema = f"tpb_test_meltano_{os.getpid()}"
    config = target_config(schema, use_copy=True)
    variables = {f"TARGET_POSTGRES_BATCH_{k.upper()}": str(v) for k, v in config.items()}
    url = write_batch(tmp_path / "b.jsonl.gz", ['{"id": "a", "n": 1}', '{"id": "b", "n": 2.5}'])
    messages = [
        {
            "type": "SCHEMA",
            "stream": "things",
            "schema": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "n": {"type": ["number", "null"]}},
            },
            "key_properties": ["id"],
        },
        batch_message("things", [url]),
        {"type": "STATE", "value": {"bookmarks": {"things": {"done": True}}}},
    ]
    try:
        out = run(
            "invoke",
            "target-postgres-batch",
            cwd=project,
            extra=variables,
            stdin="".join(json.dumps(m) + "\n" for m in messages),
        )
        assert "BATCH message of things: 2 records from 1 files, COPY" in out, out[-3000:]
        assert '{"bookmarks": {"things": {"done": true}}}' in out
        columns, rows = table_cells(schema, "things")
        assert [(r[-2], r[-1]) for r in rows] == [("a", "1.0"), ("b", "2.5")], (columns, rows)
    finally:
        drop_schemas(schema)
