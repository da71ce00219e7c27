"""The data contract, end to end: the tap's whole output judged against its own SCHEMAs.

The local upstream sends what breaks schema-driven targets: People.ai timestamps without an
offset, fields the schema does not know (an object, and a number that is sometimes whole),
and an extra ChartMogul CSV column. Every record of every mode (RECORD, BATCH; native and
Python pass; the SDK path under stream maps, flattening and deselection) must be valid
against the last SCHEMA of its stream, with every field it carries declared before it.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.kit.must_run import require_native
from tests.kit.singer_contract import check_output
from tests.kit.tap_process import batch_config, run_tap, select_only, tap_command
from tests.kit.upstream import chartmogul_config, peopleai_config

PEOPLEAI_DRIFT = {"x_future_field": ["object", "null"], "x_engagement_score": ["number", "null"]}
CHARTMOGUL_DRIFT = {"custom_note": ["string", "null"]}
STREAMS = [
    *(f"peopleai_{k}" for k in ("email", "meeting", "call")),
    *(f"chartmogul_{k}" for k in ("new_biz", "expansion", "contraction", "churn", "reactivation")),
]


def both_sources(upstream, **overrides) -> dict:
    return {**peopleai_config(upstream), **chartmogul_config(upstream), **overrides}


def assert_contract_holds(run, streams) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    report = check_output(run.messages)
    assert not report.violations, report.violations[:10]
    assert not report.undeclared, sorted(set(report.undeclared))[:10]
    assert set(report.records) == set(streams)
    return report


@pytest.mark.parametrize("native", ["1", "0"], ids=["native", "python"])
@pytest.mark.parametrize("mode", ["record", "batch"])
def test_every_record_is_valid_against_its_latest_schema(upstream, tmp_path, mode, native):
    if native == "1":
        require_native()
    config = both_sources(upstream)
    if mode == "batch":
        (tmp_path / "batches").mkdir()
        config["batch_config"] = batch_config(tmp_path / "batches", size=50)
    run = run_tap(config, tmp_path / "run", env={"TAP_ACTIVITIES_NATIVE": native})
    report = assert_contract_holds(run, STREAMS)

    for stream in STREAMS:
        first, latest = report.schemas[stream][0], report.latest(stream)
        drift = PEOPLEAI_DRIFT if stream.startswith("peopleai") else CHARTMOGUL_DRIFT
        # The first SCHEMA is the documented one; the drift arrives in later ones.
        assert not set(drift) & set(first["properties"]), stream
        for name, types in drift.items():
            assert sorted(latest["properties"][name]["type"]) == sorted(types), (stream, name)
        # Each new field is logged once per stream and run, with its type.
        for name in drift:
            logged = [
                line for line in run.stderr.splitlines() if f"{stream}: new field '{name}'" in line
            ]
            assert len(logged) == 1, (stream, name, logged)

    # Offset-less timestamps went out as the same instant, in UTC.
    stamps = [
        r["timestamp"]
        for m in run.messages
        if m["type"] == "RECORD" and m["stream"].startswith("peopleai")
        for r in [m["record"]]
    ]
    if mode == "record":
        assert stamps
        assert all(s.endswith("Z") for s in stamps)


def test_a_new_field_is_declared_before_the_first_record_that_carries_it(upstream, tmp_path):
    run = run_tap(peopleai_config(upstream), tmp_path)
    report = assert_contract_holds(run, ["peopleai_email", "peopleai_meeting", "peopleai_call"])
    schema_at = {}
    for index, message in enumerate(run.messages):
        if message["type"] == "SCHEMA":
            for name in message["schema"]["properties"]:
                schema_at.setdefault((message["stream"], name), index)
    for (stream, name), first in report.first_carrier.items():
        assert schema_at[(stream, name)] < first, (stream, name)


def test_discovery_still_gives_the_documented_schema(upstream, tmp_path):
    command = tap_command(both_sources(upstream), tmp_path, args=("--discover",))
    found = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    catalog = json.loads(found.stdout)
    assert len(catalog["streams"]) == 8
    for entry in catalog["streams"]:
        props = entry["schema"]["properties"]
        assert not {*PEOPLEAI_DRIFT, *CHARTMOGUL_DRIFT} & set(props), entry["tap_stream_id"]


def test_stream_maps_flattening_and_selection_keep_the_contract(upstream, tmp_path):
    from tap_activities.tap import TapActivities

    config = both_sources(
        upstream,
        flattening_enabled=True,
        flattening_max_depth=1,
        stream_maps={
            "peopleai_call": {"uid_copy": "uid", "summary": "__NULL__"},
            # The README's example: a new field's type pinned, another dropped.
            "peopleai_email": {
                "x_engagement_score": "float(record['x_engagement_score']) "
                "if record.get('x_engagement_score') is not None else None",
                "x_future_field": "__NULL__",
            },
        },
    )
    run = run_tap(config, tmp_path / "maps")
    report = assert_contract_holds(run, STREAMS)
    calls = report.latest("peopleai_call")["properties"]
    assert "uid_copy" in calls
    assert "summary" not in calls
    # Flattened: the object the upstream added goes out as JSON text, declared so.
    assert calls["x_future_field"]["type"] == ["string", "null"]
    flattened = [
        m["record"]["x_future_field"]
        for m in run.messages
        if m["type"] == "RECORD"
        and m["stream"] == "peopleai_call"
        and m["record"].get("x_future_field")
    ]
    assert flattened
    emails = report.schemas["peopleai_email"]
    assert len(emails) == 1, "a map that pins and drops the new fields needs no new SCHEMA"
    assert emails[0]["properties"]["x_engagement_score"]["type"] == ["number", "null"]
    assert "x_future_field" not in emails[0]["properties"]
    scores = [
        m["record"]["x_engagement_score"]
        for m in run.messages
        if m["type"] == "RECORD" and m["stream"] == "peopleai_email"
    ]
    assert any(isinstance(score, float) for score in scores)
    assert all(json.loads(v)["note"] for v in flattened)

    # A stream selected whole gets the new fields; a field deselected by name stays out,
    # even though the documented schema never listed it.
    catalog = select_only(
        TapActivities(config=peopleai_config(upstream)).catalog_dict, "peopleai_email"
    )
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "peopleai_email":
            entry["metadata"].append(
                {
                    "breadcrumb": ["properties", "x_engagement_score"],
                    "metadata": {"selected": False},
                }
            )
    for mode in ("record", "batch"):
        selected = peopleai_config(upstream)
        if mode == "batch":
            (tmp_path / "sel-batches").mkdir()
            selected["batch_config"] = batch_config(tmp_path / "sel-batches", size=50)
        run = run_tap(selected, tmp_path / f"select-{mode}", catalog=catalog)
        report = assert_contract_holds(run, ["peopleai_email"])
        props = report.latest("peopleai_email")["properties"]
        assert "x_future_field" in props
        assert "x_engagement_score" not in props
        assert (
            "peopleai_email: field 'x_engagement_score' is not in the schema and is deselected"
            in run.stderr
        )
