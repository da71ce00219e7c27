"""Helpers shared by the fault, resume and secret tests: what the upstream generated.

Every check compares primary keys: the records a run emitted against the records the
local upstream generated for the same windows, so a lost or doubled record fails a test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tests.conftest import END, START

PEOPLEAI_STREAMS = {
    "peopleai_email": "email",
    "peopleai_meeting": "meeting",
    "peopleai_call": "call",
}
CHARTMOGUL_TYPES = ("new_biz", "expansion", "contraction", "churn", "reactivation")
CHARTMOGUL_STREAMS = {f"chartmogul_{kind}": kind for kind in CHARTMOGUL_TYPES}
T = TypeVar("T")


def peopleai_ids(
    up, start: dt.date = START, end: dt.date = END, by: str = "activity"
) -> dict[str, set[str]]:
    """Uids per stream of a People.ai export of ``start..end``."""
    return {
        stream: {r["uid"] for r in up.peopleai.records(kind, start, end, by)}
        for stream, kind in PEOPLEAI_STREAMS.items()
    }


def chartmogul_ids(up, start: dt.date = START, end: dt.date = END) -> dict[str, set[str]]:
    """Uuids per stream of a ChartMogul export of ``start..end``."""
    return {
        stream: {r["uuid"] for r in up.chartmogul.rows(kind, start, end)}
        for stream, kind in CHARTMOGUL_STREAMS.items()
    }


def key_of(stream: str) -> str:
    """The primary key field of a stream."""
    return "uid" if stream.startswith("peopleai_") else "uuid"


def assert_exactly(records: dict[str, list[dict]], expected: dict[str, set[str]]) -> None:
    """Every expected record arrived, none twice, none foreign."""
    assert all(expected.values()), "the upstream generated nothing to compare with"
    assert set(records) <= set(expected), f"unexpected streams {set(records) - set(expected)}"
    for stream, ids in expected.items():
        got = [r[key_of(stream)] for r in records.get(stream, [])]
        assert len(got) == len(set(got)), f"{stream}: {len(got) - len(set(got))} record(s) twice"
        assert set(got) == ids, (
            f"{stream}: {len(ids - set(got))} missing, {len(set(got) - ids)} foreign"
        )


def assert_all_windows_done(state: dict, streams: Iterable[str], end: dt.date = END) -> None:
    """Each stream's bookmark reached ``end`` and no in-flight export is left in state."""
    for stream in streams:
        bookmark = state.get("bookmarks", {}).get(stream, {})
        assert bookmark.get("bookmark") == end.isoformat(), (stream, bookmark)
        assert "jobs" not in bookmark, (stream, bookmark)


def run_side_by_side(
    request, test_name: str, param: str, runner: Callable[[str], T], workers: int = 6
) -> dict[str, T]:
    """Run ``runner(value)`` for every selected ``param`` value of ``test_name`` concurrently.

    Each tap run spends most of its time starting up or waiting on the upstream, so
    running the selected cases of a table side by side keeps the suite fast; each case
    still gets its own upstream, process and test report.
    """
    wanted = sorted(
        {
            item.callspec.params[param]
            for item in request.session.items
            if item.originalname == test_name
        }
    )
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {value: pool.submit(runner, value) for value in wanted}
        return {value: future.result() for value, future in futures.items()}
