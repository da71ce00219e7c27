"""Shared fixtures (a local upstream per test, PostgreSQL, meltano), markers, the CI guard.

Tests live in folders by kind, and each test carries its folder's marker, so a kind can be
chosen with ``-m`` as well as by path (``make test-fast`` runs ``unit`` and ``process``):

- ``unit``: the tap's modules in this process (a local upstream in a thread at most);
- ``process``: the tap, or a script of this repository, run as its own process;
- ``pipeline``: meltano runs and loaders, into PostgreSQL;
- ``services``: S3, Snowflake, Airflow, third-party Singer consumers;
- ``packaging``: the sdist and wheel, and installs of the package as users make them.

Helpers shared by tests of several kinds are in ``tests/kit``. The CI guard: under
``CI=true`` a skipped test is a failed one (tests/kit/must_run.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tests.kit import meltano_kit
from tests.kit.must_run import IN_CI
from tests.kit.upstream import fast_upstream_config


@pytest.fixture
def upstream():
    with LocalUpstream(fast_upstream_config()) as up:
        yield up
        assert not up.faults.unfired(), f"faults armed that never fired: {up.faults.unfired()}"


@pytest.fixture(autouse=True)
def upstream_rules_kept(request, monkeypatch):
    """Every local upstream a test starts saw no violation of the API documents' rules.

    (``up.violations``: credentials at the wrong host, undocumented parameters, the
    ``/fragment`` path.) Tests of the upstream itself that break them on purpose carry
    the ``breaks_upstream_rules`` marker.
    """
    started: list[LocalUpstream] = []
    start = LocalUpstream.start

    def recorded(self: LocalUpstream) -> LocalUpstream:
        started.append(self)
        return start(self)

    monkeypatch.setattr(LocalUpstream, "start", recorded)
    yield
    if request.node.get_closest_marker("breaks_upstream_rules") is None:
        broken = [v for up in started for v in up.violations]
        assert not broken, f"requests that break rules of the API documents: {broken}"


@pytest.fixture(scope="session")
def pg_ready() -> None:
    """PostgreSQL and meltano are there (or the test fails in CI, skips elsewhere)."""
    meltano_kit.check_postgres()


@pytest.fixture(scope="session")
def meltano_env(pg_ready, tmp_path_factory) -> dict[str, str]:
    """Environment for meltano: plugins installed once per session, state per test."""
    return meltano_kit.installed_env(tmp_path_factory)


@pytest.fixture
def schema(pg_ready) -> Iterator[str]:
    """A fresh PostgreSQL schema name for the test's loads; dropped afterwards."""
    name = f"tap_activities_test_{uuid.uuid4().hex[:10]}"
    yield name
    meltano_kit.drop_schemas(name)


@pytest.fixture
def tenant_plugins(meltano_env, tmp_path_factory) -> Iterator[dict[str, str]]:
    """meltano with the tenants' plugins installed (once) and their schemas dropped."""
    env = meltano_kit.installed_env(tmp_path_factory, *meltano_kit.tenant_plugins())
    meltano_kit.drop_tenant_schemas()
    yield env
    meltano_kit.drop_tenant_schemas()


KINDS = {
    "unit": "the tap's modules in this process (a local upstream in a thread at most)",
    "process": "the tap, or a script of this repository, run as its own process",
    "pipeline": "meltano runs and loaders, into PostgreSQL",
    "services": "S3, Snowflake, Airflow, third-party Singer consumers",
    "packaging": "the sdist and wheel, and installs of the package as users make them",
}
"""The folders of tests/ by kind, each the name of its marker."""


def pytest_configure(config) -> None:
    for kind, what in KINDS.items():
        config.addinivalue_line("markers", f"{kind}: tests/{kind}: {what}")
    config.addinivalue_line(
        "markers",
        "may_skip_in_ci(reason): the test may skip even under CI=true, for the reason given",
    )
    config.addinivalue_line(
        "markers", "breaks_upstream_rules: the test sends requests the API documents refuse"
    )


def pytest_collection_modifyitems(config, items) -> None:
    """Give each test the marker of the folder it is in (tests/unit: ``unit``...)."""
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests).parts
        if len(parts) > 1 and parts[0] in KINDS:
            item.add_marker(parts[0])


def _skip_fails_in_ci(report, item=None) -> None:
    """Under CI=true, turn a skip into a failure that names the skip's reason."""
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    marker = item.get_closest_marker("may_skip_in_ci") if item is not None else None
    if marker is not None and marker.kwargs.get("reason"):
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _skip_fails_in_ci(outcome.get_result(), item)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _skip_fails_in_ci(outcome.get_result())
