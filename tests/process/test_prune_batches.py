"""Loaded BATCH files do not pile up, and none goes before its run committed its state.

``orchestration/prune_batches.py`` deletes the tap's files of earlier runs from one
pipeline's batch directory; ``orchestration/run_pipeline.sh`` calls it only after
``meltano run`` succeeded. Both run here as processes: the script on a directory of real
files (the tap's, others, old and new), the shell step with a stand-in ``meltano`` that
succeeds or fails, so the order "run, then prune, only on success" is what is tested.
The whole path with the real meltano and PostgreSQL is in tests/pipeline/test_parallel_pipelines.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.kit.paths import ROOT

PRUNE = ROOT / "orchestration" / "prune_batches.py"
RUN_PIPELINE = ROOT / "orchestration" / "run_pipeline.sh"
DAY = 86400


def tap_file(directory: Path, stream: str = "peopleai_email", prefix: str = "") -> Path:
    """An empty file named as the tap names its BATCH files."""
    path = directory / f"{prefix}tap-activities--{stream}-{uuid.uuid4()}-1.json.gz"
    path.write_bytes(b"")
    return path


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def prune(root: str, started: float) -> str:
    done = subprocess.run(
        [sys.executable, str(PRUNE), "--started", str(started), root],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_only_the_taps_files_of_earlier_runs_go(tmp_path):
    batches = tmp_path / "batches"
    batches.mkdir()
    old = [age(tap_file(batches), DAY), age(tap_file(batches, "chartmogul_churn", "acme-"), 60)]
    new = [tap_file(batches), tap_file(batches, "peopleai_call")]  # this run's
    others = [batches / "notes.txt", batches / "tap-activities-probe-0123abcd"]  # not BATCH
    for other in others:
        other.touch()
        age(other, DAY)
    sub = batches / "peopleai-email"  # a pipeline's own directory under the parent's
    sub.mkdir()
    nested = age(tap_file(sub), DAY)
    link = batches / f"tap-activities--peopleai_email-{uuid.uuid4()}-2.json.gz"
    link.symlink_to(nested)

    out = prune(f"file://{batches}", started=time.time() - 5)

    assert out == f"prune_batches: 2 loaded file(s) of earlier runs deleted from {batches}\n"
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in new)
    assert all(p.exists() for p in others)
    assert nested.exists(), "a sub-directory is another pipeline's"
    assert link.is_symlink()


def test_roots_that_are_not_local_or_not_set_are_left_alone(tmp_path):
    assert prune("s3://bucket/prefix", time.time()) == (
        "prune_batches: s3://bucket/prefix is not file://: left to the bucket's lifecycle rule\n"
    )
    assert prune("", time.time()) == (
        "prune_batches: no batch directory (RECORD mode): nothing to delete\n"
    )
    missing = tmp_path / "missing"
    assert prune(str(missing), time.time()) == (
        f"prune_batches: 0 loaded file(s) of earlier runs deleted from {missing}\n"
    )


FAKE_MELTANO = """#!/usr/bin/env bash
# Stand-in for meltano: `run` exits with $FAKE_RUN_STATUS after writing one BATCH file
# (as the tap would), `config print` answers the extractor's config.
echo "$@" >> "$FAKE_CALLS"
case "$2" in
  run) id=$(cat /proc/sys/kernel/random/uuid)
       touch "$FAKE_BATCHES/tap-activities--peopleai_email-$id-1.json.gz"
       exit "$FAKE_RUN_STATUS" ;;
  config) printf '%s' "$FAKE_CONFIG" ;;
esac
"""


def run_pipeline(tmp_path: Path, batches: Path, status: int) -> subprocess.CompletedProcess:
    meltano = tmp_path / "meltano"
    meltano.write_text(FAKE_MELTANO)
    meltano.chmod(0o755)
    config = {"batch_config": {"storage": {"root": f"file://{batches}"}}}
    env = {
        **os.environ,
        "MELTANO_BIN": str(meltano),
        "MELTANO_ENVIRONMENT": "prod",
        "PYTHON": sys.executable,
        "FAKE_RUN_STATUS": str(status),
        "FAKE_BATCHES": str(batches),
        "FAKE_CALLS": str(tmp_path / "calls"),
        "FAKE_CONFIG": json.dumps(config),
    }
    return subprocess.run(
        [str(RUN_PIPELINE), "peopleai-email"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_failed_run_deletes_nothing_and_a_successful_one_prunes(tmp_path):
    batches = tmp_path / "batches"
    batches.mkdir()
    earlier = age(tap_file(batches), DAY)

    failed = run_pipeline(tmp_path, batches, status=3)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert earlier.exists(), "a failed run must not prune: its state is not committed"
    left_by_failure = [p for p in batches.iterdir() if p != earlier]
    assert len(left_by_failure) == 1
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "--environment=prod run tap-activities--peopleai-email target-postgres--peopleai-email"
    ]

    age(left_by_failure[0], 120)
    done = run_pipeline(tmp_path, batches, status=0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"prune_batches: 2 loaded file(s) of earlier runs deleted from {batches}"
    ]
    (kept,) = list(batches.iterdir())  # the successful run's own file
    assert kept not in {earlier, *left_by_failure}
