"""Checks before any export job: the selection, and the credentials of every selected source.

A catalog that selects nothing is an error (meltano makes one from a mistyped `select`
rule), while discovery, ``--about`` and ``--test`` are not affected by the selection. A
wrong secret of one source stops the run before the other source exports anything; a
source none of whose streams is selected is not asked at all.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import requests

from activities_upstream import LocalUpstream
from tap_activities.tap import TapActivities
from tests.kit.tap_process import CLI_ERROR, TAP, catalog_of, deselect_all, run_tap
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config


def both_sources(up: LocalUpstream, **overrides) -> dict:
    return {**peopleai_config(up), **chartmogul_config(up), **overrides}


def test_a_catalog_selecting_nothing_stops_a_sync_but_not_discovery_about_or_test(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = both_sources(up)
        nothing = deselect_all(TapActivities(config=config).catalog_dict)
        synced = run_tap(config, tmp_path / "sync", catalog=nothing)
        assert synced.returncode == 1
        (line,) = synced.cli_errors
        assert "selects none of the tap's streams" in line
        assert "meltano select tap-activities --list" in line
        for stream in ("peopleai_email", "chartmogul_churn", "chartmogul_reactivation"):
            assert stream in line
        assert not synced.messages, "a sync that selects nothing wrote Singer messages"
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == []

        for args in (("--discover",), ("--about", "--format=json"), ("--test",)):
            run = tap_command(config, nothing, tmp_path / args[0].strip("-"), *args)
            assert run.returncode == 0, (args, run.stderr[-2000:])
            assert CLI_ERROR not in run.stderr
            if args[0] != "--test":
                shown = json.loads(run.stdout)
                names = {s["tap_stream_id"] for s in shown.get("streams", [])}
                assert args[0] == "--about" or len(names) == 8
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == []


def tap_command(config: dict, catalog: dict, workdir: Path, *args: str):
    """The tap with a config and a catalog, its whole stdout kept (one JSON document)."""
    workdir.mkdir(parents=True)
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    command = [TAP, "--config", str(workdir / "config.json")]
    command += ["--catalog", str(workdir / "catalog.json"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_wrong_peopleai_secret_fails_before_any_export_of_either_source(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = both_sources(up, peopleai_client_secret="wrong-secret")
        began = time.monotonic()
        run = run_tap(config, tmp_path)
        took = time.monotonic() - began
        assert run.returncode == 1
        (line,) = run.cli_errors
        assert "refused the credentials" in line
        assert "'peopleai_client_secret'" in line
        assert "wrong-secret" not in run.stderr
        assert not run.records, "records were emitted before the credentials were checked"
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == [], "ChartMogul exported while People.ai was refused"
        print(f"wrong People.ai secret: failed after {took:.2f} s")


def test_a_wrong_chartmogul_key_fails_before_any_peopleai_job(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        run = run_tap(both_sources(up, chartmogul_api_key="wrong-key"), tmp_path)
        assert run.returncode == 1
        (line,) = run.cli_errors
        assert "HTTP 401" in line
        assert "'chartmogul_api_key'" in line
        assert not run.records
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == []
        pings = [r for r in up.requests_log if r.path == "/v1/ping"]
        assert len(pings) == 1


def test_a_source_with_no_selected_stream_is_not_checked(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = both_sources(up, chartmogul_api_key="wrong-key")
        run = run_tap(config, tmp_path, catalog=catalog_of(config, "peopleai_email"))
        assert run.returncode == 0, run.stderr[-3000:]
        assert len(run.records["peopleai_email"]) > 0
        assert not [r for r in up.requests_log if r.host == "chartmogul"]
        assert up.chartmogul.exports() == []
        tokens = [r for r in up.requests_log if r.path == "/auth/v1/tokens"]
        assert len(tokens) == 1  # the check's token serves the whole run


def test_the_local_chartmogul_answers_its_authentication_test_like_the_api(upstream):
    """``GET /v1/ping``: pong for the key, 401 for any other (ChartMogul's clients use it)."""
    url = f"{upstream.chartmogul_url}/v1/ping"
    good = requests.get(url, auth=(upstream.chartmogul_api_key, ""), timeout=5)
    assert (good.status_code, good.json()) == (200, {"data": "pong!"})
    for auth in (("wrong-key", ""), None):
        refused = requests.get(url, auth=auth, timeout=5)
        assert refused.status_code == 401
        assert "pong" not in refused.text
