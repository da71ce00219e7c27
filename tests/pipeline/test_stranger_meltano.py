"""A stranger's first night: the published plugin definition in a fresh `meltano init` project.

Everything else in the suite runs inside this repository's own ``meltano.yml``. Here the
tap is used the way the README tells a new user to: ``meltano init``, then
``meltano add tap-activities --from-ref plugin/extractors/tap-activities.yml``, its
``pip_url`` pointed at a commit of this clone (``git+file://<clone>@<commit>``, the way a
user pins a fork or a release: a build from git is what a user gets, and uv caches it by
commit, so it is never a stale build of other code), a fully declared target-postgres, and
every setting given only through ``TAP_ACTIVITIES_*`` variables. Then ``--test``, a run,
and a second run that must be incremental (delta exports from the saved state). meltano's
JSON log shows the levels a log filter sees: the tap's warnings at warning level, and the
reason of a failure (``tap-activities: error: ...``) at error level, not info.

Meltano is kept off the network: the Hub URL points at a closed loopback port, so a step
that needed the Hub would fail here rather than pass on a machine with access.

The commit tested is HEAD: uncommitted changes are not in it. Under ``CI=true`` a missing
PostgreSQL or meltano fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import yaml

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import upstream_env
from tests.kit.paths import ROOT
from tests.kit.stranger import DEFINITION, Stranger, head_commit, tap_log
from tests.kit.upstream import fast_upstream_config
from tests.kit.warehouse import snapshot

START = dt.date(2024, 1, 1)
END = dt.date(2024, 1, 12)
STATE_ID = "dev:tap-activities-to-target-postgres"


def loader_definition() -> dict:
    """target-postgres as this repository declares it: complete, so no Hub is needed."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (loader,) = [p for p in project["plugins"]["loaders"] if p["name"] == "target-postgres"]
    return loader


@pytest.fixture(scope="module")
def stranger(pg_ready, tmp_path_factory) -> Stranger:
    """The project after the README's steps: init, add both plugins, install."""
    user = Stranger(tmp_path_factory.mktemp("stranger"))
    commit = head_commit()
    began = time.monotonic()
    user.meltano("init", user.project.name, "--no_usage_stats")
    added = user.meltano("add", "tap-activities", "--from-ref", str(DEFINITION), "--no-install")
    assert "Added extractor 'tap-activities'" in added
    assert "utility" not in added
    user.set_pip_url("tap-activities", f"git+file://{ROOT}@{commit}")
    loader_file = user.home / "target-postgres.yml"
    loader_file.write_text(yaml.safe_dump(loader_definition()))
    user.meltano("add", "target-postgres", "--from-ref", str(loader_file), "--no-install")
    user.add_project_env("UV_COMPILE_BYTECODE", "1")
    installing = time.monotonic()
    user.meltano("install")
    done = time.monotonic()
    print(  # the cost of the stranger's set-up, shown with pytest -s
        f"stranger project: init+add {installing - began:.1f} s, install {done - installing:.1f} s"
    )
    return user


def loader_env(target_schema: str) -> dict[str, str]:
    """target-postgres's settings, as a user sets them: environment variables only."""
    return {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": "5432",
        "TARGET_POSTGRES_USER": "postgres",
        "TARGET_POSTGRES_PASSWORD": "trust-auth-not-checked",
        "TARGET_POSTGRES_DATABASE": "test",
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": target_schema,
    }


def saved_state(user: Stranger) -> dict:
    result = user.process("state", "get", STATE_ID)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_plugins_are_installed_with_their_bytecode(stranger):
    """With the README's ``UV_COMPILE_BYTECODE`` in meltano.yml, meltano's installer compiles
    every package: no plugin start compiles its imports again (PYTHONDONTWRITEBYTECODE is set).
    """
    for kind, plugin, package in (
        ("extractors", "tap-activities", "tap_activities"),
        ("loaders", "target-postgres", "target_postgres"),
        ("loaders", "target-postgres", "singer_sdk"),
    ):
        folder = stranger.site_packages(kind, plugin) / package
        sources = {p.stem for p in folder.glob("*.py")}
        compiled = {p.name.split(".")[0] for p in folder.glob("__pycache__/*.pyc")}
        assert sources, f"{folder}: no modules"
        missing = sorted(sources - compiled)
        assert not missing, f"{plugin}: {package} modules without bytecode: {missing}"


def test_the_definition_file_is_all_a_stranger_needs(stranger, schema):
    config = fast_upstream_config(start=START, end=END, peopleai_per_day=3)
    with LocalUpstream(config) as up:
        env = {
            **upstream_env(up),
            # Whole numbers through variables too (upstream_env sets a fraction as text).
            "TAP_ACTIVITIES_CHARTMOGUL_LOOKBACK_DAYS": "2",
            "TAP_ACTIVITIES_DOWNLOAD_WORKERS": "2",
            **loader_env(schema),
        }
        tested = stranger.meltano("invoke", "tap-activities", "--test", env=env)
        assert "Connection test: People.ai accepted the key pair" in tested
        assert "Connection test: ChartMogul accepted the API key" in tested
        assert up.peopleai.jobs() == []
        assert up.chartmogul.exports() == []

        ran = stranger.meltano(
            "--log-format=json",
            "run",
            "tap-activities",
            "target-postgres",
            env=env,
        )
        warnings = [e for e in tap_log(ran) if "which the schema does not list" in e["event"]]
        assert warnings, "the upstream's new fields were not reported"
        assert {e["level"] for e in warnings} == {"warning"}, warnings[0]
        first = snapshot(schema)
        for kind in PEOPLEAI_TYPES:
            want = {r["uid"] for r in up.peopleai.records(kind, START, END)}
            assert set(first[f"peopleai_{kind}"]) == want, kind
        for kind in CHARTMOGUL_TYPES:
            want = {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
            assert set(first[f"chartmogul_{kind}"]) == want, kind
        bookmarks = saved_state(stranger)["singer_state"]["bookmarks"]
        assert set(bookmarks) == {f"peopleai_{k}" for k in PEOPLEAI_TYPES} | {
            f"chartmogul_{k}" for k in CHARTMOGUL_TYPES
        }
        assert {b["bookmark"] for b in bookmarks.values()} == {END.isoformat()}

        jobs_before = len(up.peopleai.jobs())
        exports_before = len(up.chartmogul.exports())
        touched = set(up.peopleai.mutate(END, new=4, changed=3))
        touched |= set(up.chartmogul.mutate(END, new=3, changed=2))
        stranger.meltano("run", "tap-activities", "target-postgres", env=env)

        # Incremental: People.ai deltas of the bookmark day only, ChartMogul from the
        # bookmark minus the two look-back days.
        deltas = up.peopleai.jobs()[jobs_before:]
        assert len(deltas) == len(PEOPLEAI_TYPES)
        for job in deltas:
            assert job["export_type"] == "delta", job
            assert (job["start_date"], job["end_date"]) == (END.isoformat(), END.isoformat())
        again = up.chartmogul.exports()[exports_before:]
        assert len(again) == len(CHARTMOGUL_TYPES)
        lookback = (END - dt.timedelta(days=2)).isoformat()
        assert {e["params"]["params"]["start_date"][:10] for e in again} == {lookback}
        second = snapshot(schema)
        for kind in PEOPLEAI_TYPES:
            table = f"peopleai_{kind}"
            want = {r["uid"]: r for r in up.peopleai.records(kind, START, END)}
            assert set(second[table]) == set(want), table
            for uid in touched & set(want):
                assert second[table][uid]["subject"] == want[uid]["subject"], uid
        for kind in CHARTMOGUL_TYPES:
            table = f"chartmogul_{kind}"
            assert set(second[table]) == {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
        assert any(uid not in first[t] for t in first for uid in second[t]), "nothing new"
        state = saved_state(stranger)["singer_state"]["bookmarks"]
        assert all(b["mode"] == "delta" for n, b in state.items() if n.startswith("peopleai"))
        assert not up.violations


def test_the_reason_of_a_failure_is_logged_at_error_level(stranger, schema):
    """meltano reads the tap's log as structured: its error line is an error, not info."""
    with LocalUpstream(fast_upstream_config(start=START, end=START)) as up:
        wrong = "wrong-chartmogul-key-0123456789"
        env = {**upstream_env(up), "TAP_ACTIVITIES_CHARTMOGUL_API_KEY": wrong, **loader_env(schema)}
        failed = stranger.process(
            "--log-format=json",
            "run",
            "--state-id-suffix=failing",  # not the other test's state, whichever ran first
            "tap-activities",
            "target-postgres",
            env=env,
        )
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-3000:]
    errors = [e for e in tap_log(output) if e["event"].startswith("tap-activities: error:")]
    assert len(errors) == 1, output[-3000:]
    assert errors[0]["level"] == "error"
    assert "check 'chartmogul_api_key'" in errors[0]["event"]
    for secret in (wrong, up.peopleai_client_secret):
        assert secret not in output
