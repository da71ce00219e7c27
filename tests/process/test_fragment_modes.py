"""Every reading of People.ai's ``fragment`` field, against the tap as a process.

The document calls ``fragment`` a "count of fragments (0-based)"; the tap reads it as the
highest index and lets the job's ``results_size`` decide what a 404 on that last index
means (tap_activities/sources/peopleai/client.py, ``FragmentTally``). The local upstream serves each
reading the document allows (activities_upstream/config.py); in each, every record
arrives, or the run fails with one line that says a fragment is missing.
"""

from __future__ import annotations

import pytest

from activities_upstream import LocalUpstream
from tests.kit.faultkit import param_of, run_side_by_side
from tests.kit.tap_process import TapRun, catalog_of, run_tap
from tests.kit.upstream import END, START, fast_upstream_config, peopleai_config

STREAM = "peopleai_email"
FRAGMENT_RECORDS = 30  # 153 email records: 6 fragments

MODES = {
    "highest-index": {},
    "count": {"fragment_is_count": True},
    "count-no-results-size": {"fragment_is_count": True, "reports_results_size": False},
    "fragments-key-count": {"fragment_field": "fragments", "fragment_is_count": True},
    "fragments-key-index": {"fragment_field": "fragments"},
    "no-fragment-field": {"fragment_field": None},
    "results-size-counts-more": {"results_size_extra": 1000},
    "last-fragment-lost": {"missing_fragment": -1},
    "middle-fragment-lost": {"missing_fragment": 2},
    "count-and-last-fragment-lost": {"fragment_is_count": True, "missing_fragment": -1},
}


def run_mode(mode: str, tmp_path_factory) -> tuple[TapRun, set[str], list[str]]:
    """The tap's run of one stream against an upstream in ``mode``; what it must emit."""
    config = fast_upstream_config(fragment_records=FRAGMENT_RECORDS, **MODES[mode])
    with LocalUpstream(config) as up:
        tap_config = peopleai_config(up)
        run = run_tap(
            tap_config, tmp_path_factory.mktemp(mode), catalog=catalog_of(tap_config, STREAM)
        )
        want = {r["uid"] for r in up.peopleai.records("email", START, END)}
        return run, want, up.violations


arriving = param_of("test_every_record_arrives", "mode")
failing = param_of("test_a_lost_fragment_fails_the_window", "mode")


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> dict[str, tuple[TapRun, set[str], list[str]]]:
    return run_side_by_side(
        request,
        lambda item: arriving(item) or failing(item),
        lambda mode: run_mode(mode, tmp_path_factory),
    )


def uids(run: TapRun) -> list[str]:
    return [r["uid"] for r in run.records.get(STREAM, [])]


@pytest.mark.parametrize(
    ("mode", "logged"),
    [
        ("highest-index", None),
        ("count", "'fragment' was a count, nothing is missing"),
        ("count-no-results-size", "the job has no results_size to check it against"),
        ("fragments-key-count", "'fragment' was a count, nothing is missing"),
        ("fragments-key-index", None),
        ("no-fragment-field", None),
        ("results-size-counts-more", "kept as complete"),
    ],
)
def test_every_record_arrives(runs, mode, logged):
    run, want, violations = runs[mode]
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(want) > 5 * FRAGMENT_RECORDS, "too few records for several fragments"
    assert sorted(uids(run)) == sorted(want)
    assert run.bookmarks(STREAM)["bookmark"] == END.isoformat()
    assert not violations
    lines = [line for line in run.stderr.splitlines() if "fragment" in line and "404" in line]
    if logged is None:
        assert not lines, lines
        assert "results_size says" not in run.stderr
    else:
        assert logged in run.stderr, run.stderr[-3000:]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("last-fragment-lost", "a fragment is missing upstream, twice"),
        ("count-and-last-fragment-lost", "data is gone upstream"),
        ("middle-fragment-lost", "data is gone upstream"),
    ],
)
def test_a_lost_fragment_fails_the_window(runs, mode, message):
    run, want, violations = runs[mode]
    assert run.returncode != 0
    assert len(run.cli_errors) == 1, run.stderr[-3000:]
    assert message in run.cli_errors[0]
    assert "Traceback" not in run.stderr
    assert "job " in run.cli_errors[0]
    assert "fragment" in run.cli_errors[0]
    assert set(uids(run)) < want  # records of the fragments that answered, none foreign
    assert run.bookmarks(STREAM).get("bookmark") != END.isoformat()  # the window is not done
    assert not violations


@pytest.mark.parametrize(
    ("overrides", "logged"),
    [
        ({"fragment_is_count": True}, "'fragment' was a count, nothing is missing"),
        ({}, None),
    ],
    ids=["count", "highest-index"],
)
def test_a_window_without_data_is_done_whichever_the_reading(tmp_path, overrides, logged):
    """No data: ``fragment`` is 0 either way, and index 0 answers 404 where it is a count.
    ``results_size`` 0 says nothing is missing, so the window is done, not failed."""
    start, end = "2023-06-01", "2023-06-10"  # before the upstream's first activity
    with LocalUpstream(fast_upstream_config(**overrides)) as up:
        config = peopleai_config(up, start_date=start, end_date=end)
        run = run_tap(config, tmp_path, catalog=catalog_of(config, STREAM))
        jobs = up.peopleai.jobs()
    assert run.returncode == 0, run.stderr[-3000:]
    assert [(j["fragment"], j["results_size"]) for j in jobs] == [(0, 0)]
    assert not run.records.get(STREAM)
    assert run.bookmarks(STREAM)["bookmark"] == end
    if logged:
        assert logged in run.stderr
