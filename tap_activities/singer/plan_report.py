"""``--plan``: the next sync's windows, jobs, limits and estimate, as text or one JSON document.

Everything here comes from :func:`~tap_activities.singer.planning.plan_stream`, the function
the sync itself plans with, applied to the state as loaded; nothing is exported, no
upstream is called and no Singer message is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tap_activities.export.estimate import DOWNLOADS, PlannedJob, estimate, timing_of
from tap_activities.export.job_limits import JobLimits
from tap_activities.singer.planning import StreamPlan, resync_done

PLAN_FORMATS = ("text", "json")


def plan_document(
    plans: Sequence[tuple[str, StreamPlan, Mapping[str, Any]]],
    limits: Mapping[str, JobLimits],
    resync_key: str | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The plan as one JSON-able document.

    Args:
        plans: Per selected stream, in sync order: its source, its plan, its state as loaded.
        limits: Each source's job limits.
        resync_key: The ``resync`` setting's range, to say where it is already done.
        notes: Lines the sync would log about its settings (a later ``start_date``).
    """
    jobs = [
        PlannedJob(plan.stream, source, w.export_type, w.window.days)
        for source, plan, _ in plans
        for w in plan.windows
    ]
    timings = {plan.stream: timing_of(state.get("history")) for _, plan, state in plans}
    result = estimate(jobs, timings, limits)
    streams = [
        _stream_entry(source, plan, state, result.per_stream.get(plan.stream), resync_key)
        for source, plan, state in plans
    ]
    sources = dict.fromkeys(source for source, _, _ in plans)
    measured = sum(t.windows for t in timings.values() if t is not None)
    return {
        "streams": streams,
        "limits": {s: _limits_entry(limits[s], s, plans, result.rounds.get(s, 0)) for s in sources},
        "totals": {
            "streams": len(streams),
            "windows": len(jobs),
            "jobs_to_create": sum(e["jobs_to_create"] for e in streams),
            "jobs_to_resume": sum(e["jobs_to_resume"] for e in streams),
            "estimate_seconds": result.seconds,
            "estimate_basis": "history" if result.seconds is not None else "limits",
            "measured_windows": measured,
            "decided_by": result.decided_by,
        },
        "notes": list(notes),
    }


def _stream_entry(
    source: str,
    plan: StreamPlan,
    state: Mapping[str, Any],
    seconds: float | None,
    resync_key: str | None,
) -> dict[str, Any]:
    timing = timing_of(state.get("history"))
    return {
        "stream": plan.stream,
        "source": source,
        "bookmark": state.get("bookmark"),
        "history_start": plan.decided.state.get("history_start", state.get("history_start")),
        "windows": [
            {
                "start": w.window.start.isoformat(),
                "end": w.window.end.isoformat(),
                "days": w.window.days,
                "export_type": w.export_type,
                "purpose": w.purpose,
                "job": w.job,
                "job_id": w.resume_job_id,
            }
            for w in plan.windows
        ],
        "jobs_to_create": sum(1 for w in plan.windows if w.job == "new"),
        "jobs_to_resume": sum(1 for w in plan.windows if w.job == "resume"),
        "estimate_seconds": None if seconds is None else round(seconds, 1),
        "measured_windows": timing.windows if timing else 0,
        "resync_done": resync_key is not None and resync_key in resync_done(state),
    }


def _limits_entry(
    limits: JobLimits, source: str, plans: Sequence[tuple[str, StreamPlan, Any]], rounds: int
) -> dict[str, Any]:
    mine = [plan for s, plan, _ in plans if s == source]
    return {
        "title": limits.title,
        "running": limits.running,
        "queued": limits.open,
        "queued_is_documented": limits.open_is_documented,
        "streams": [plan.stream for plan in mine],
        "windows": sum(len(plan.windows) for plan in mine),
        "rounds": rounds,
    }


def plan_json(document: Mapping[str, Any]) -> str:
    """``--plan --format=json``: the document, indented."""
    return json.dumps(document, indent=2)


def plan_text(document: Mapping[str, Any]) -> str:
    """``--plan``: the document for a person to read."""
    lines = ["Plan of the next sync (nothing is exported; from the state given)"]
    for entry in document["streams"]:
        lines += _stream_lines(entry)
    totals = document["totals"]
    lines.append(
        f"Totals: {totals['windows']} window(s) in {totals['streams']} stream(s); "
        f"{totals['jobs_to_create']} job(s) to create, {totals['jobs_to_resume']} to resume"
    )
    for limit in document["limits"].values():
        lines.append(f"Limits: {_limit_phrase(limit)}; {_rounds_phrase(limit)}")
    lines.append(_estimate_line(document))
    lines += [f"Note: {note}" for note in document["notes"]]
    return "\n".join(lines)


def _stream_lines(entry: Mapping[str, Any]) -> list[str]:
    head = (
        f"{entry['stream']}: bookmark {entry['bookmark'] or 'none'}, "
        f"{len(entry['windows'])} window(s), {entry['jobs_to_create']} job(s) to create, "
        f"{entry['jobs_to_resume']} to resume"
    )
    lines = [head]
    for w in entry["windows"]:
        job = f"resume {w['job_id']}" if w["job"] == "resume" else "new"
        purpose = "" if w["purpose"] == "sync" else f"  ({w['purpose']})"
        kind = w["export_type"] or "export"
        lines.append(f"  {w['start']}..{w['end']}  {kind:<8}  {job}{purpose}")
    if entry["resync_done"]:
        lines.append("  resync: its range was exported by an earlier run; not again")
    if entry["estimate_seconds"] is not None:
        lines.append(
            f"  estimate: its last window out after {_duration(entry['estimate_seconds'])} "
            f"({entry['measured_windows']} measured window(s) of its own)"
        )
    return lines


def _limit_phrase(limit: Mapping[str, Any]) -> str:
    parts = [f"{limit['running']} running"] if limit["running"] else []
    whose = "" if limit["queued_is_documented"] else " (the tap's own cap)"
    parts.append(f"{limit['queued']} {'queued' if limit['running'] else 'open'}{whose}")
    return f"{limit['title']}: {', '.join(parts)}, shared by {', '.join(limit['streams'])}"


def _rounds_phrase(limit: Mapping[str, Any]) -> str:
    at_once = limit["running"] or limit["queued"]
    return (
        f"{limit['windows']} window(s), {at_once} at a time: at least {limit['rounds']} "
        "round(s) of one job's duration"
    )


def _estimate_line(document: Mapping[str, Any]) -> str:
    totals = document["totals"]
    if totals["windows"] == 0:
        return "Estimate: nothing to export"
    if totals["estimate_seconds"] is None:
        return (
            "Estimate: no history of earlier runs in state, so no time in seconds; "
            "the limits above set the bound"
        )
    decided = totals["decided_by"]
    if decided == DOWNLOADS:
        why = "downloading and emitting records (jobs are done before they are needed)"
    else:
        limit = document["limits"][decided]
        at_once = f"{limit['running']} running" if limit["running"] else f"{limit['queued']} open"
        why = f"{limit['title']}'s {at_once} jobs"
    return (
        f"Estimate: about {_duration(totals['estimate_seconds'])}, decided by {why} "
        f"(from {totals['measured_windows']} measured window(s) in state)"
    )


def _duration(seconds: float) -> str:
    """``3 h 05 min``, ``4 min 10 s`` or ``12.5 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
