"""BATCH files in object storage: the tap writes them to a real S3 server (SeaweedFS),
target-postgres loads them through meltano, and a storage the tap cannot write to is one
line before any export job exists.

Credentials come from the standard AWS variables only (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL), as the README documents for production.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import uuid

import pytest

from tests.kit.faultkit import CHARTMOGUL_STREAMS, PEOPLEAI_STREAMS
from tests.kit.meltano_kit import PG_DSN, run_meltano, upstream_env
from tests.kit.must_run import require_module
from tests.kit.s3_server import seaweed
from tests.kit.tap_process import CLI_ERROR, assert_unchanged, batch_config, run_tap, tap_command
from tests.kit.upstream import END, START, chartmogul_config, peopleai_config

psycopg = require_module("psycopg")
s3fs = require_module("s3fs", "`pip install -e '.[s3]'` installs it (the s3 extra)")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with seaweed(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


def s3_batch_config(bucket: str) -> dict:
    return batch_config(f"s3://{bucket}/exports", size=100, prefix="activities-")


def filesystem(s3) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(
        key=s3.access_key, secret=s3.secret_key, client_kwargs={"endpoint_url": s3.endpoint}
    )


def test_batch_files_land_in_s3_with_every_record(upstream, s3, tmp_path):
    bucket = f"tap-{uuid.uuid4().hex[:8]}"
    config = {**peopleai_config(upstream), **chartmogul_config(upstream)}
    config["batch_config"] = s3_batch_config(bucket)
    run = run_tap(config, tmp_path, env=s3.env())
    assert run.returncode == 0, run.stderr[-3000:]
    fs = filesystem(s3)
    manifests = [m for m in run.messages if m["type"] == "BATCH"]
    assert manifests
    records: dict[str, list[dict]] = {}
    for message in manifests:
        for url in message["manifest"]:
            assert url.startswith(f"s3://{bucket}/exports/activities-"), url
            with fs.open(url, "rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
                records.setdefault(message["stream"], []).extend(json.loads(x) for x in lines)
    assert set(records) == set(PEOPLEAI_STREAMS) | set(CHARTMOGUL_STREAMS)
    for stream, kind in PEOPLEAI_STREAMS.items():
        want = {r["uid"]: r for r in upstream.peopleai.records(kind, START, END)}
        assert sorted(r["uid"] for r in records[stream]) == sorted(want), stream
        for record in records[stream]:
            assert_unchanged(record, want[record["uid"]])
    for stream, kind in CHARTMOGUL_STREAMS.items():
        rows = upstream.chartmogul.rows(kind, START, END)
        assert sorted(r["uuid"] for r in records[stream]) == sorted(r["uuid"] for r in rows)
    # The write probe leaves nothing behind.
    assert not [p for p in fs.find(f"{bucket}/exports") if "probe" in p]


@pytest.mark.parametrize("fault", ["wrong-secret", "missing-credentials"])
def test_storage_the_tap_cannot_write_is_one_line_before_any_export(upstream, s3, tmp_path, fault):
    config = {**peopleai_config(upstream), "batch_config": s3_batch_config("tap-denied")}
    env = (
        s3.env(secret="not-the-secret")
        if fault == "wrong-secret"
        else {
            "AWS_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
        }
    )
    run = run_tap(config, tmp_path, env=env, timeout=120)
    assert run.returncode == 1
    assert len(run.cli_errors) == 1, run.stderr[-3000:]
    line = run.cli_errors[0]
    assert "'batch_config.storage.root' is s3://tap-denied/exports" in line
    assert "cannot write a file there" in line
    assert "Traceback" not in run.stderr
    assert "not-the-secret" not in run.stderr
    assert upstream.peopleai.jobs() == []  # nothing was exported for nothing


def test_meltano_loads_s3_batches_into_postgres(meltano_env, s3, tmp_path):
    from activities_upstream import LocalUpstream
    from tests.kit.upstream import fast_upstream_config

    schema = f"tap_activities_s3_{uuid.uuid4().hex[:8]}"
    bucket = f"meltano-{uuid.uuid4().hex[:8]}"
    with LocalUpstream(fast_upstream_config(peopleai_per_day=4)) as up:
        env = {
            **meltano_env,
            **s3.env(),
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TAP_ACTIVITIES_CHARTMOGUL_API_KEY": "",
            "TAP_ACTIVITIES_BATCH_CONFIG": json.dumps(s3_batch_config(bucket)),
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        }
        try:
            run_meltano(["run", "tap-activities", "target-postgres"], env)
            with psycopg.connect(PG_DSN) as conn:
                for kind in ("email", "meeting", "call"):
                    loaded = {
                        row[0]
                        for row in conn.execute(f'select uid from "{schema}".peopleai_{kind}')
                    }
                    want = {r["uid"] for r in up.peopleai.records(kind, START, END)}
                    assert loaded == want, kind
        finally:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'drop schema if exists "{schema}" cascade')
    assert filesystem(s3).find(bucket), "meltano's run wrote no batch file to S3"


def test_the_s3_extra_resolves_to_a_current_s3fs():
    # s3fs and boto3 unpinned together once resolved to s3fs 0.4.2; the extra (installed
    # by the Makefile with the test extra) must bring a current one.
    assert int(s3fs.__version__.split(".")[0]) >= 2024, s3fs.__version__


def test_without_s3fs_the_line_says_which_extra_to_install(upstream, tmp_path):
    """An installation without the s3 extra: the probe's ImportError, worded."""
    config = {**peopleai_config(upstream), "batch_config": s3_batch_config("any-bucket")}
    no_s3fs = "import sys; sys.modules['s3fs'] = None; from tap_activities.tap import cli; cli()"
    done = subprocess.run(
        tap_command(config, tmp_path, argv=[sys.executable, "-c", no_s3fs]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith(CLI_ERROR)]
    assert done.returncode == 1
    assert len(errors) == 1, done.stderr[-2000:]
    assert "'batch_config.storage.root' is s3://any-bucket/exports" in errors[0]
    assert "pip install 'tap-activities[s3]'" in errors[0]
    assert upstream.peopleai.jobs() == []
