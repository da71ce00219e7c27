"""The singer-sdk internals the fast record path leans on, checked once per run.

The fast path (``streams.ExportStream._sync_records`` and friends) replaces the SDK's
per-record loop, so it overrides or calls a handful of the SDK's private methods. An SDK
release that changes one of them must make the tap slower, never wrong: at start, each
hook's parameters are compared with what this tap was written against, and on any
difference every stream takes the SDK's own record path, with one warning that says which
hook changed. Everything else the tap needs from the SDK is public API.
"""

from __future__ import annotations

import functools
import inspect
import logging

from singer_sdk import Stream

LOGGER = logging.getLogger("tap_activities.sdk_hooks")

HOOKS: dict[str, tuple[str, ...]] = {
    "_sync_records": ("self", "context", "write_messages"),
    "_write_record_message": ("self", "record"),
    "_finalize_state": ("self", "state"),
    "_write_state_message": ("self",),
    "_abort_sync": ("self", "abort_reason"),
    "get_record_counter": ("self", "endpoint", "log_interval"),
    "get_sync_timer": ("self",),
}
"""Stream methods the fast path overrides or calls, with the parameters it passes."""


def changed_hooks(stream_class: type = Stream) -> list[str]:
    """The hooks of ``stream_class`` that are missing or take other parameters."""
    changed = []
    for name, expected in HOOKS.items():
        hook = getattr(stream_class, name, None)
        if hook is None:
            changed.append(f"{name} (gone)")
            continue
        try:
            found = tuple(inspect.signature(hook).parameters)
        except (TypeError, ValueError):
            changed.append(f"{name} (no signature)")
            continue
        if found != expected:
            changed.append(f"{name}({', '.join(found[1:])})")
    return changed


@functools.lru_cache(maxsize=1)
def fast_path_allowed() -> bool:
    """Whether the SDK's hooks are as the fast path expects (warns once when not)."""
    changed = changed_hooks()
    if changed:
        LOGGER.warning(
            "singer-sdk changed hooks the fast record path relies on (%s): every stream "
            "takes the SDK's own record path, slower but with the same records",
            "; ".join(changed),
        )
    return not changed
