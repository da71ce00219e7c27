"""Which People.ai fragment pass this installation runs, and whether that deserves a warning.

The native pass is built when the package is installed, if the machine has what it needs
(:mod:`.native_build`: a C++ compiler and Python's headers; simdjson comes with pysimdjson
when the system has none). Installers hide the build's warning, and uv and pip reuse a wheel
they built earlier, so an installation can lack the native pass on a machine that has
everything to build it: after a compiler or Python's headers were installed,
``meltano install --clean`` still installs the cached wheel. The tap then runs slower
without a word. Here that case is a warning with the recipe that rebuilds, and
``--about`` shows the pass and the simdjson it was built with.
"""

from __future__ import annotations

import importlib.machinery
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tap_activities.errors import ConfigError
from tap_activities.sources.peopleai.lines.native import (
    built_with,
    native_description,
    native_frame,
)
from tap_activities.sources.peopleai.lines.native_build import missing_for_build

REINSTALL = (
    "reinstall without the build cache: UV_NO_CACHE=1 meltano install --clean extractor "
    "tap-activities (pip: pip install --force-reinstall --no-deps --no-cache-dir <pip_url>)"
)
"""The recipe (docs/native-pass.md); tests/packaging/test_native_reinstall.py runs it."""


@dataclass(frozen=True)
class FragmentPass:
    """The pass in use, in words, and whether the user should be told to rebuild."""

    native: bool
    description: str
    warn: bool = False
    simdjson: dict[str, str] | None = None
    """The native pass's simdjson (:func:`~.native.built_with`)."""


def fragment_pass_status() -> FragmentPass:
    """The pass People.ai fragments take here (``TAP_ACTIVITIES_NATIVE=1``: native or error)."""
    if native_frame() is not None:  # raises ConfigError under TAP_ACTIVITIES_NATIVE=1
        return FragmentPass(True, native_description(), simdjson=built_with())
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
            "compiler and Python's headers; simdjson comes with pysimdjson): this "
            f"installation was built without it, often from a cached wheel; {REINSTALL}",
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


class FragmentPassNote:
    """The fragment pass an installation runs, told where it decides what to expect.

    It decides how fast a sync is and is chosen when the package is built, so it belongs
    with the version in ``--about``, and at the start of every sync that reads People.ai.
    """

    def amend_about(self, text: str, style: str) -> str:
        """``--about``'s text plus the pass: a JSON field, a text line or a Markdown section."""
        used = described()
        if style == "json":
            data = json.loads(text)
            data["fragment_pass"] = {
                "native": used.native,
                "description": used.description,
                "simdjson": used.simdjson,
            }
            return json.dumps(data, indent=2, default=str)
        if style == "markdown":
            return text + f"\n## People.ai fragment pass\n\n{used.description}\n"
        lines = text.split("\n")
        after = next(i for i, line in enumerate(lines) if line.startswith("SDK Version:"))
        lines.insert(after + 1, f"People.ai Fragment Pass: {used.description}")
        return "\n".join(lines)

    def log_start(self, logger: logging.Logger) -> None:
        """The pass a sync runs, as a warning when the user should rebuild."""
        used = fragment_pass_status()  # raises ConfigError under TAP_ACTIVITIES_NATIVE=1
        level = logging.WARNING if used.warn else logging.INFO
        logger.log(level, "People.ai fragment pass: %s", used.description)


FRAGMENT_PASS = FragmentPassNote()
"""People.ai's build note in ``sources.registry.SOURCES``."""
