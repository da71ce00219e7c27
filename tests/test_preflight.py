"""Checks before any export job: the selection.

A catalog that selects nothing is an error (meltano makes one from a mistyped `select`
rule), while discovery, ``--about`` and ``--test`` are not affected by the selection.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from activities_upstream import LocalUpstream
from tap_activities.tap import TapActivities
from tests.conftest import chartmogul_config, fast_upstream_config, peopleai_config
from tests.tap_process import CLI_ERROR, TAP, run_tap
from tests.test_bad_input import deselect_all


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
