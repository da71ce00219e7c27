"""The optional native People.ai fragment pass, loaded (or not) for this run.

``lines.cpp`` frames a piece of JSON Lines in one call with simdjson, byte for byte as the
Python pass (:class:`~.record_lines.RecordLines`) would; it is compiled into ``_lines``
when the package is built, if the machine has what it needs (:mod:`.native_build`), and
:mod:`.native_status` says which pass an installation runs, and with which simdjson.
Anything the native pass does not decide, it declines, and the Python pass takes the
piece.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from tap_activities.errors import ConfigError

if TYPE_CHECKING:
    from tap_activities.records.framing import Block

NativeFrame = Callable[
    [
        bytes,
        int,
        tuple[bytes, ...],
        tuple[bytes, ...],
        bytes,
        bytes,
        bytes,
        tuple[bytes, ...],
        tuple[bytes, ...],
    ],
    "Block | None",
]


def native_frame() -> NativeFrame | None:
    """The native pass's ``frame``, or None (not built, or ``TAP_ACTIVITIES_NATIVE=0``).

    ``TAP_ACTIVITIES_NATIVE=1`` makes its absence an error, so that CI and benchmarks
    cannot measure the Python pass while believing they measure the native one.
    """
    mode = os.environ.get("TAP_ACTIVITIES_NATIVE", "")
    if mode == "0":
        return None
    try:
        from tap_activities.sources.peopleai.lines import _lines  # type: ignore[attr-defined]
    except ImportError as exc:
        if mode == "1":
            msg = f"TAP_ACTIVITIES_NATIVE=1 but the native fragment pass cannot be loaded: {exc}"
            raise ConfigError(msg) from None
        return None
    return _lines.frame


def built_with() -> dict[str, str]:
    """The simdjson the native pass was built with: its version, and where it came from.

    ``origin`` is ``system library`` (pkg-config's) or ``pysimdjson X.Y.Z`` (the copy of
    simdjson's source that pysimdjson ships). Only for a native pass that loads.
    """
    from tap_activities.sources.peopleai.lines import _lines  # type: ignore[attr-defined]

    version, origin = _lines.simdjson()
    return {"version": version, "origin": origin}


def native_description() -> str:
    """The native pass in words: its simdjson, and the kernel simdjson chose for this CPU."""
    from tap_activities.sources.peopleai.lines import _lines  # type: ignore[attr-defined]

    used = built_with()
    origin = "the system library" if used["origin"] == "system library" else used["origin"]
    return f"native (simdjson {used['version']} from {origin}, {_lines.implementation()} kernel)"
