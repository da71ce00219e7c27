"""The native pass from a user's install: without libsimdjson-dev, and lost to a cached wheel.

A fresh meltano project on a machine whose pkg-config knows no simdjson (most machines)
installs the tap with the native pass, built against the copy of simdjson pysimdjson
ships, and says so in ``--about`` and the sync log.

meltano 4 installs plugins with uv, which keeps the wheels it builds. A wheel built while
the machine could not build the native pass (no C++ compiler or no Python headers yet;
here ``TAP_ACTIVITIES_NATIVE=0`` stands in for them) stays in that cache, and
``meltano install --clean`` installs it again once they are there: the tap then runs its
Python pass although this machine can build the native one. This test makes that happen
in a fresh project (with a uv cache of its own, so no other test meets the stale wheel),
checks that ``--about`` and the sync log say so (a warning, with the recipe), runs the
recipe as the README gives it and checks that the pass is native afterwards; then that
``uv cache clean tap-activities`` cures the cache. pip does the same with the wheel it
builds from a release's sdist; the README's pip line (``--force-reinstall --no-deps
--no-cache-dir``) brings the native pass back.

Under ``CI=true`` a machine that cannot build the native pass fails the test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tap_activities.sources.peopleai.lines.native_build import missing_for_build
from tests.kit.meltano_kit import MELTANO
from tests.kit.must_run import require_module, unavailable
from tests.kit.paths import ROOT
from tests.kit.stranger import DEFINITION, Stranger, head_commit, tap_log
from tests.kit.upstream import fast_upstream_config

UV = MELTANO.with_name("uv")
WARNING = "People.ai fragment pass: pure Python, although this machine has what"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Stranger:
    if not MELTANO.exists():
        unavailable(f"{MELTANO} is missing; `make test` installs it")
    missing = missing_for_build()
    if missing is not None:
        unavailable(f"this machine cannot build the native pass: {missing}")
    user = Stranger(tmp_path_factory.mktemp("native-reinstall"))
    user.env["UV_CACHE_DIR"] = str(user.home / "uv-cache")
    user.env["TAP_ACTIVITIES_NATIVE"] = ""  # a user's shell: neither required nor refused
    user.meltano("init", user.project.name, "--no_usage_stats")
    user.meltano("add", "tap-activities", "--from-ref", str(DEFINITION), "--no-install")
    user.set_pip_url("tap-activities", f"git+file://{ROOT}@{head_commit()}")
    return user


def fragment_pass(user: Stranger) -> dict:
    result = user.process("invoke", "tap-activities", "--about", "--format=json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout[result.stdout.index("{") :])["fragment_pass"]


def installed_extension(user: Stranger) -> list[Path]:
    venv = user.project / ".meltano" / "extractors" / "tap-activities" / "venv"
    return list(
        venv.glob("lib/python*/site-packages/tap_activities/sources/peopleai/lines/_lines*")
    )


def sync_log(user: Stranger) -> list[dict]:
    """The tap's log events of a one-day People.ai sync through ``meltano invoke``."""
    day = dt.date(2024, 1, 1)
    with LocalUpstream(fast_upstream_config(start=day, end=day)) as up:
        env = {
            "TAP_ACTIVITIES_START_DATE": day.isoformat(),
            "TAP_ACTIVITIES_END_DATE": day.isoformat(),
            "TAP_ACTIVITIES_PEOPLEAI_API_URL": up.peopleai_url,
            "TAP_ACTIVITIES_PEOPLEAI_CLIENT_ID": up.peopleai_client_id,
            "TAP_ACTIVITIES_PEOPLEAI_CLIENT_SECRET": up.peopleai_client_secret,
            "TAP_ACTIVITIES_POLL_INTERVAL_SECONDS": "0.05",
        }
        result = user.process("--log-format=json", "invoke", "tap-activities", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return tap_log(result.stderr)


def test_meltano_install_without_libsimdjson_builds_the_native_pass(project, tmp_path):
    """pkg-config knows no simdjson: the pass is native all the same, with pysimdjson's."""
    hidden = {"PKG_CONFIG_LIBDIR": str(tmp_path / "no-pc-files"), "PKG_CONFIG_PATH": ""}
    started = time.perf_counter()
    project.meltano("install", "--clean", "extractor", "tap-activities", env=hidden)
    print(f"meltano install without libsimdjson-dev: {time.perf_counter() - started:.1f} s")
    assert installed_extension(project)
    used = fragment_pass(project)
    assert used["native"] is True
    assert used["simdjson"]["origin"].startswith("pysimdjson ")
    assert used["description"].startswith(
        f"native (simdjson {used['simdjson']['version']} from {used['simdjson']['origin']}, "
    )
    events = sync_log(project)
    assert [e for e in events if e["event"] == f"People.ai fragment pass: {used['description']}"]
    # The next test starts with no install, and uv must not hand this wheel back.
    shutil.rmtree(project.project / ".meltano" / "extractors" / "tap-activities")
    run_ok([str(UV), "cache", "clean", "tap-activities"], project.env)


def test_a_cached_wheel_without_the_native_pass_is_reported_and_the_recipe_rebuilds(project):
    # A machine without simdjson builds (and uv caches) a wheel without the native pass.
    project.meltano("install", "extractor", "tap-activities", env={"TAP_ACTIVITIES_NATIVE": "0"})
    assert installed_extension(project) == []
    # simdjson is there now (it always was: the build was told to skip it), and the usual
    # reinstall brings the cached wheel back.
    project.meltano("install", "--clean", "extractor", "tap-activities")
    assert installed_extension(project) == [], "uv rebuilt the wheel: the trap is gone?"
    stale = fragment_pass(project)
    assert stale["native"] is False
    assert "cached wheel" in stale["description"]
    assert (
        "UV_NO_CACHE=1 meltano install --clean extractor tap-activities" in (stale["description"])
    )
    warnings = [e for e in sync_log(project) if e["event"].startswith(WARNING)]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"

    # The recipe (docs/native-pass.md).
    project.meltano("install", "--clean", "extractor", "tap-activities", env={"UV_NO_CACHE": "1"})
    assert installed_extension(project)
    rebuilt = fragment_pass(project)
    assert rebuilt["native"] is True
    assert rebuilt["description"].startswith("native (simdjson")
    events = sync_log(project)
    assert not [e for e in events if e["event"].startswith(WARNING)]
    assert any(e["event"].startswith("People.ai fragment pass: native") for e in events)

    # UV_NO_CACHE leaves the stale wheel in the cache; removing it cures later installs.
    project.meltano("install", "--clean", "extractor", "tap-activities")
    assert installed_extension(project) == [], "the stale wheel left uv's cache by itself?"
    cleaned = run_ok([str(UV), "cache", "clean", "tap-activities"], project.env)
    assert "tap-activities" in cleaned or "Removed" in cleaned
    project.meltano("install", "--clean", "extractor", "tap-activities")
    assert fragment_pass(project)["native"] is True


def test_pip_reuses_its_wheel_too_and_the_pip_recipe_rebuilds(tmp_path):
    """pip caches the wheel it builds from a release's sdist; the README's pip line rebuilds."""
    if missing_for_build() is not None:
        unavailable(f"this machine cannot build the native pass: {missing_for_build()}")
    require_module("build", "the test extra has it")
    run_ok([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)])
    venv = tmp_path / "venv"
    run_ok([sys.executable, "-m", "venv", str(venv)])
    env = {k: v for k, v in os.environ.items() if k != "TAP_ACTIVITIES_NATIVE"}
    env["PIP_CACHE_DIR"] = str(tmp_path / "pip-cache")  # no other test meets the stale wheel
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    release = ["--find-links", str(tmp_path), "tap-activities"]  # as from an index

    run_ok([*pip, *release], env={**env, "TAP_ACTIVITIES_NATIVE": "0"})
    run_ok([*pip, "--force-reinstall", *release], env=env)
    assert not native_in(venv), "pip rebuilt the wheel: the trap is gone?"
    run_ok([*pip, "--force-reinstall", "--no-cache-dir", *release], env=env)
    assert native_in(venv), "the recipe did not bring the native pass back"


def native_in(venv: Path) -> str:
    """The native pass's kernel in ``venv`` (the extension alone: no dependency needed)."""
    probe = (
        "from tap_activities.sources.peopleai.lines import _lines as n; print(n.implementation())"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=venv,  # not the clone, whose tap_activities would be found first
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def run_ok(command: list[str], env: dict[str, str] | None = None) -> str:
    """``command``'s output; fails on a non-zero exit."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)}:\n{output[-3000:]}"
    return output
