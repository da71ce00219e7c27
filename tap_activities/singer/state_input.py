"""The state handed to the tap (``--state``, or meltano's saved state), checked first.

A bookmark that is not a date, or a state of the wrong shape, would otherwise surface deep
in a sync as ``Invalid isoformat string: 'yesterday'``, naming neither the stream nor the
key. Here it is one line naming both, before any export job is created. Keys the tap does
not use (the SDK's own, or another tool's) are left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tap_activities.errors import ConfigError
from tap_activities.report.history import FIELDS, KEPT
from tap_activities.settings import shown

MODES = ("snapshot", "delta")
HINT = "fix it, or clear the state (meltano state clear <state id>) to start over"


def unwrapped(state: Any) -> Any:
    """The Singer state inside meltano's stored form (``meltano state get`` prints it).

    meltano keeps a pipeline's state as ``{"singer_state": {"bookmarks": ...}}``; an
    operator who saves that output and hands it to ``--state`` (for ``--plan``, say)
    means the state inside. Any other state is returned as it is.
    """
    if isinstance(state, Mapping) and "bookmarks" not in state:
        inner = state.get("singer_state")
        if isinstance(inner, Mapping):
            return dict(inner)
    return state


def check_state(state: Any) -> None:
    """Raise :class:`ConfigError` at the first key of ``state`` the tap cannot use."""
    if state is None or state == {}:
        return
    if not isinstance(state, Mapping):
        _bad("state", state, "a JSON object with 'bookmarks'")
    bookmarks = state.get("bookmarks")
    if bookmarks is None:
        return
    if not isinstance(bookmarks, Mapping):
        _bad("state 'bookmarks'", bookmarks, "an object of streams")
    for stream, entry in bookmarks.items():
        _check_stream(f"state 'bookmarks.{stream}", entry)


def _check_stream(where: str, entry: Any) -> None:
    if not isinstance(entry, Mapping):
        _bad(f"{where}'", entry, "an object")
    for key in ("bookmark", "delta_start", "history_start"):
        value = entry.get(key)
        if value is not None and not _is_date(value):
            _bad(f"{where}.{key}'", value, "a date (YYYY-MM-DD)")
    mode = entry.get("mode")
    if mode is not None and mode not in MODES:
        _bad(f"{where}.mode'", mode, "'snapshot' or 'delta'")
    done = entry.get("resync_done")
    if done is not None and not (isinstance(done, list) and all(isinstance(k, str) for k in done)):
        _bad(f"{where}.resync_done'", done, "a list of ranges")
    progress = entry.get("resync_progress")
    if progress is not None and not (
        isinstance(progress, Mapping) and _is_date(progress.get("through"))
    ):
        _bad(f"{where}.resync_progress'", progress, 'an object with a "through" date')
    jobs = entry.get("jobs")
    if jobs is not None:
        if not isinstance(jobs, Mapping):
            _bad(f"{where}.jobs'", jobs, "an object of windows")
        for window, job in jobs.items():
            if not isinstance(job, Mapping) or not isinstance(job.get("job_id"), str):
                _bad(f"{where}.jobs.{window}'", job, 'an object with a "job_id" text')
    _check_history(where, entry.get("history"))


HISTORY_ENTRY = (
    'an object with "window" (YYYY-MM-DD..YYYY-MM-DD), "export_type", "days", '
    '"job_seconds", "download_seconds", "bytes" and "records"'
)


def _check_history(where: str, history: Any) -> None:
    """The measured history (:mod:`tap_activities.report.history`): a bounded list."""
    if history is None:
        return
    if not isinstance(history, list) or len(history) > KEPT:
        _bad(f"{where}.history'", history, f"a list of at most {KEPT} entries")
    for index, item in enumerate(history):
        if not _is_history_entry(item):
            _bad(f"{where}.history[{index}]'", item, HISTORY_ENTRY)


def _is_history_entry(item: Any) -> bool:
    if not isinstance(item, Mapping) or set(item) != set(FIELDS):
        return False
    start, _, end = str(item["window"]).partition("..")
    counts = (item["days"], item["bytes"], item["records"])
    seconds = (item["job_seconds"], item["download_seconds"])
    return (
        isinstance(item["window"], str)
        and _is_date(start)
        and _is_date(end)
        and item["export_type"] in (*MODES, None)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
        and all(_is_seconds(n) for n in seconds)
    )


def _is_seconds(value: Any) -> bool:
    """A number of seconds; a state file's decimals are read as ``Decimal``."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and value >= 0


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _bad(where: str, value: Any, expected: str) -> None:
    msg = f"{where} is {shown(value)}, not {expected}; {HINT}"
    raise ConfigError(msg)
