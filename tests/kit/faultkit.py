"""Helpers shared by the fault, resume and secret tests: what the upstream generated.

Every check compares primary keys: the records a run emitted against the records the
local upstream generated for the same windows, so a lost or doubled record fails a test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tests.kit.upstream import END, START

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
    request,
    key: Callable[[Any], str | None],
    runner: Callable[[str], T],
    workers: int = 6,
) -> dict[str, T]:
    """Run ``runner(k)`` concurrently for the key ``k`` of every selected test item.

    ``key`` maps a collected test item to the run it needs (None: none). Each tap run
    spends most of its time starting up or waiting on the upstream, so running the
    selected cases side by side keeps the suite fast; each case still gets its own
    upstream, process and test report.
    """
    wanted = sorted({k for item in request.session.items if (k := key(item)) is not None})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {k: pool.submit(runner, k) for k in wanted}
        return {k: future.result() for k, future in futures.items()}


def param_of(test_name: str, param: str) -> Callable[[Any], str | None]:
    """A ``key`` for :func:`run_side_by_side`: the ``param`` value of ``test_name``'s items."""

    def key(item: Any) -> str | None:
        if getattr(item, "originalname", None) != test_name:
            return None
        return item.callspec.params[param]

    return key
