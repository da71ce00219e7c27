"""Which People.ai fragment pass this installation runs, and whether that deserves a warning.

The native pass is built when the package is installed, if the machine has what it needs
(:mod:`.native_build`). Installers hide the build's warning, and uv and pip reuse a wheel
they built earlier, so an installation can lack the native pass on a machine that has
everything to build it: after simdjson was installed, ``meltano install --clean`` still
installs the cached wheel. The tap then runs 1.05-1.4x slower without a word. Here that
case is a warning with the recipe that rebuilds, and ``--about`` shows the pass.
"""

from __future__ import annotations

import importlib.machinery
import os
from dataclasses import dataclass
from pathlib import Path

from tap_activities.errors import ConfigError
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.native_build import missing_for_build

REINSTALL = (
    "reinstall without the build cache: UV_NO_CACHE=1 meltano install --clean extractor "
    "tap-activities (pip: pip install --force-reinstall --no-deps --no-cache-dir <pip_url>)"
)
"""The recipe (README, "The native fragment pass"); tests/test_native_reinstall.py runs it."""


@dataclass(frozen=True)
class FragmentPass:
    """The pass in use, in words, and whether the user should be told to rebuild."""

    native: bool
    description: str
    warn: bool = False


def fragment_pass_status() -> FragmentPass:
    """The pass People.ai fragments take here (``TAP_ACTIVITIES_NATIVE=1``: native or error)."""
    if native_frame() is not None:  # raises ConfigError under TAP_ACTIVITIES_NATIVE=1
        from tap_activities.sources.peopleai.lines import _lines  # type: ignore[attr-defined]

        return FragmentPass(True, f"native (simdjson, {_lines.implementation()} kernel)")
    if os.environ.get("TAP_ACTIVITIES_NATIVE", "") == "0":
        return FragmentPass(False, "pure Python (TAP_ACTIVITIES_NATIVE=0)")
    built = _extension_files()
    if built:
        return FragmentPass(
            False,
            f"pure Python, although the native pass is installed ({built[0].name}) but cannot "
            f"be loaded: {_import_error()}; {REINSTALL}",
            warn=True,
        )
    missing = missing_for_build()
    if missing is None:
        return FragmentPass(
            False,
            "pure Python, although this machine has what the native pass needs (a C++ "
            "compiler, Python's headers, simdjson): this installation was built without it, "
            f"often from a cached wheel; {REINSTALL}",
            warn=True,
        )
    return FragmentPass(False, f"pure Python (the native pass is not built here: {missing})")


def described() -> FragmentPass:
    """As :func:`fragment_pass_status`, but an unloadable required pass is described too."""
    try:
        return fragment_pass_status()
    except ConfigError as exc:
        return FragmentPass(False, f"none: {exc}", warn=True)


def _extension_files() -> list[Path]:
    package = Path(__file__).parent
    return [
        path
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        for path in package.glob(f"_lines{suffix}")
    ]


def _import_error() -> str:
    try:
        from tap_activities.sources.peopleai.lines import _lines  # type: ignore[attr-defined]  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return "it loads now"
