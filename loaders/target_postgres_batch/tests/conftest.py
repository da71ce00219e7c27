"""The loader's own test set-up: PostgreSQL, and what a test may not skip in CI.

Every test here that loads needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust,
database test; ``TPB_TEST_DSN`` names another). Under ``CI=true`` a test that cannot run
fails with the reason; elsewhere it is skipped with it (``-ra`` lists them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.kit import IN_CI, PG_DSN, drop_schemas, unavailable


@pytest.fixture(scope="session")
def pg_ready() -> None:
    """PostgreSQL answers (or the test fails in CI, skips elsewhere)."""
    import psycopg

    try:
        with psycopg.connect(PG_DSN) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable ({PG_DSN}): {exc}".splitlines()[0])


@pytest.fixture
def schemas(pg_ready) -> Iterator[tuple[str, str]]:
    """Two fresh schema names, the stock target's and the loader's; dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = (f"tpb_test_stock_{tag}", f"tpb_test_fast_{tag}")
    yield names
    drop_schemas(*names)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failed one, with the skip's reason."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


def pytest_report_header() -> str:
    return f"target-postgres-batch tests: PostgreSQL {PG_DSN}, CI={os.environ.get('CI', '')}"
