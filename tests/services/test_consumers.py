"""Consumers we did not write judge the tap's output: singer-check-tap and target-csv.

singer-check-tap (singer-tools) validates every RECORD against its stream's SCHEMA with its
own validator; MeltanoLabs target-csv writes one column per declared field and crashes on a
record field its SCHEMA did not declare. The local upstream sends fields the schemas do not
know and timestamps without an offset, so both fail on a tap that breaks the contract.

Each consumer lives in a virtualenv of its own that ``make test`` creates. Under ``CI=true``
a missing one fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from tests.kit.must_run import require_path
from tests.kit.paths import ROOT
from tests.kit.tap_process import batch_config, tap_command
from tests.kit.upstream import chartmogul_config, peopleai_config

CHECK_TAP = ROOT / ".venv-singer-tools" / "bin" / "singer-check-tap"
TARGET_CSV = ROOT / ".venv-target-csv" / "bin" / "target-csv"
consumer = require_path  # each consumer's command, or fail in CI / skip elsewhere


def tap_output(upstream, workdir: Path, **overrides) -> Path:
    """The tap's whole stdout for both sources, as a file."""
    config = {**peopleai_config(upstream), **chartmogul_config(upstream), **overrides}
    command = tap_command(config, workdir)
    out = workdir / "tap.jsonl"
    with out.open("wb") as stdout:
        subprocess.run(command, stdout=stdout, check=True, timeout=300)
    return out


def expected_counts(upstream) -> dict[str, int]:
    from tests.kit.upstream import END, START

    counts = {
        f"peopleai_{kind}": len(upstream.peopleai.records(kind, START, END))
        for kind in ("email", "meeting", "call")
    }
    for kind in ("new_biz", "expansion", "contraction", "churn", "reactivation"):
        counts[f"chartmogul_{kind}"] = len(upstream.chartmogul.rows(kind, START, END))
    return counts


def expected_keys(upstream) -> dict[str, set[str]]:
    from tests.kit.upstream import END, START

    keys = {
        f"peopleai_{kind}": {r["uid"] for r in upstream.peopleai.records(kind, START, END)}
        for kind in ("email", "meeting", "call")
    }
    for kind in ("new_biz", "expansion", "contraction", "churn", "reactivation"):
        rows = upstream.chartmogul.rows(kind, START, END)
        keys[f"chartmogul_{kind}"] = {r["uuid"] for r in rows}
    return keys


def test_singer_check_tap_finds_the_output_valid(upstream, tmp_path):
    check = consumer(CHECK_TAP)
    output = tap_output(upstream, tmp_path)
    with output.open("rb") as stdin:
        result = subprocess.run(  # it writes a data folder where it runs
            [check],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
        )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "The output is valid" in result.stdout + result.stderr
    # Its summary table: every stream with every record the upstream holds.
    for stream, count in expected_counts(upstream).items():
        row = next(line for line in result.stdout.splitlines() if f"| {stream} " in line)
        assert int(row.split("|")[2]) == count, row


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_target_csv_loads_every_record_with_the_new_fields_as_columns(upstream, tmp_path, mode):
    target = consumer(TARGET_CSV)
    overrides = {}
    if mode == "batch":
        (tmp_path / "batches").mkdir()
        overrides["batch_config"] = batch_config(tmp_path / "batches", size=50)
    output = tap_output(upstream, tmp_path / "tap", **overrides)
    (tmp_path / "csv").mkdir()
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"output_path": str(tmp_path / "csv")}))
    with output.open("rb") as stdin:
        result = subprocess.run(
            [target, "--config", str(config)],
            stdin=stdin,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    keys = expected_keys(upstream)
    for stream, count in expected_counts(upstream).items():
        # A field declared mid-stream becomes a new last column: target-csv starts the file
        # again with the wider header, and rows written before lack only that last cell.
        with (tmp_path / "csv" / f"{stream}.csv").open(newline="", encoding="utf-8") as rows:
            reader = csv.DictReader(rows)
            body = list(reader)
            header = reader.fieldnames
        assert len(body) == count, stream
        key = "uuid" if stream.startswith("chartmogul") else "uid"
        assert {row[key] for row in body} == keys[stream], stream
        new = "custom_note" if stream.startswith("chartmogul") else "x_future_field"
        assert new in header, (stream, header)
        assert any(row[new] for row in body), f"{stream}: the new column holds no value"
