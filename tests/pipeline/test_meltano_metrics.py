"""The run report's METRIC lines reach meltano's log, under `meltano invoke` and `meltano run`.

meltano hands the tap its structured-logging configuration (the plugin declares the
capability), so each log line is a JSON object; a METRIC line's message still holds the
SDK's ``METRIC: {…}`` point. Under `meltano invoke` the tap's stderr passes through as
it is; under `meltano run` meltano re-logs it. Either way the tap's metrics, tagged with
the stream, are there, and the SDK's ``record_count`` equals the records that went out.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter

from activities_upstream import LocalUpstream
from tests.kit.meltano_kit import meltano_process, run_meltano, upstream_env
from tests.kit.must_run import require_module
from tests.kit.upstream import fast_upstream_config

require_module("psycopg")

METRICS = {"export_windows", "export_jobs", "export_bytes", "upstream_wait_seconds"}


def metric_points(log: str) -> list[dict]:
    """The METRIC points in a log, whether its lines are JSON objects or plain text."""
    points = []
    for line in log.splitlines():
        text = line
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                text = str(json.loads(line).get("message", ""))
        if "METRIC: " in text:
            points.append(json.loads(text.split("METRIC: ", 1)[1]))
    return points


def test_meltano_invoke_log_carries_the_metric_lines(meltano_env, tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        env = {
            **meltano_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        }
        result = meltano_process(["invoke", "tap-activities"], env)
        jobs = len(up.peopleai.jobs()) + len(up.chartmogul.exports())
    assert result.returncode == 0, result.stderr[-4000:]
    records = Counter(
        message["stream"]
        for message in map(json.loads, result.stdout.splitlines())
        if message["type"] == "RECORD"
    )
    points = metric_points(result.stderr)
    assert {p["metric"] for p in points} >= METRICS
    counted = Counter()
    for point in points:
        if point["metric"] == "record_count":
            counted[point["tags"]["stream"]] += point["value"]
    assert counted == records
    assert sum(p["value"] for p in points if p["metric"] == "export_jobs") == jobs
    assert all("stream" in p["tags"] for p in points if p["metric"] in METRICS)


def test_meltano_run_log_carries_the_metric_lines(meltano_env, schema, tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        env = {
            **meltano_env,
            **upstream_env(up),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        }
        log = run_meltano(["run", "tap-activities", "target-postgres"], env)
        jobs = len(up.peopleai.jobs()) + len(up.chartmogul.exports())
    assert "export_jobs" in log, log[-4000:]
    assert '"how"' in log or "how=" in log or "'how'" in log, log[-4000:]
    assert "upstream_wait_seconds" in log
    assert "Run summary" in log
    assert f"total: 8/8 windows; jobs {jobs} created" in log
