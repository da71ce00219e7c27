"""The measured history a stream keeps in its state: one entry per window done, bounded.

The run's plan estimates how long the next run takes from what earlier runs measured;
this is where a run leaves its measurements. The stream's state key ``history`` is a list,
newest last, of at most :data:`KEPT` entries::

    {"window": "2024-05-01..2024-05-14", "export_type": "delta" | "snapshot" | null,
     "days": 14, "job_seconds": 61, "download_seconds": 3, "bytes": 123456,
     "records": 789}

``job_seconds``: from the job's creation (or its adoption, resumed from state) as the tap
saw it, to its completion; ``download_seconds``: downloading and emitting the window. Both
are whole seconds (:func:`whole_seconds` says why).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from tap_activities.export.windows import Window

KEPT = 20
"""Entries kept per stream: enough to estimate from, small enough for any state store."""

FIELDS = ("window", "export_type", "days", "job_seconds", "download_seconds", "bytes", "records")
"""An entry's keys, in order."""


def entry(
    window: Window,
    export_type: str | None,
    *,
    job_seconds: float,
    download_seconds: float,
    received: int,
    records: int,
) -> dict[str, Any]:
    """One window's measurements, as kept in state."""
    return {
        "window": window.key,
        "export_type": export_type,
        "days": window.days,
        "job_seconds": whole_seconds(job_seconds),
        "download_seconds": whole_seconds(download_seconds),
        "bytes": received,
        "records": records,
    }


def whole_seconds(seconds: float) -> int:
    """Seconds as a whole number: state must hold no decimal fraction.

    singer-sdk targets read a STATE message's decimals as ``Decimal`` and then fail to
    write that state back out (``Object of type Decimal is not JSON serializable``), so a
    single ``1.5`` in state would stop the pipeline at its first window.
    """
    return max(0, round(seconds))


def append(state: MutableMapping[str, Any], item: dict[str, Any]) -> None:
    """Add ``item`` to the stream state's ``history``, keeping the newest :data:`KEPT`."""
    kept = state.get("history")
    history = list(kept) if isinstance(kept, list) else []
    history.append(item)
    state["history"] = history[-KEPT:]
