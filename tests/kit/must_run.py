"""What a test needs from the machine, and what happens when it is not there.

Under ``CI=true`` a test that cannot run FAILS with the reason: CI must never be green
because part of the suite did not run. Elsewhere (a laptop without PostgreSQL, say) the
test is skipped with the same reason, and ``-ra`` lists it in the summary.

Every "fail in CI, skip elsewhere" decision goes through :func:`unavailable`; the
``conftest.py`` hook turns any other skip under ``CI=true`` into a failure too, unless the
test carries ``@pytest.mark.may_skip_in_ci(reason=...)``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NATIVE_MISSING = (
    "the native pass is not built here (hatch_build.py needs a C++ compiler and Python's headers)"
)


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (the test is part of the contract), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)  # also when a module cannot import


def require_path(path: Path, how: str = "`make test` installs it") -> Path:
    """``path`` (a tool from one of the test virtualenvs), or unavailable."""
    if not path.exists():
        unavailable(f"{path} is missing; {how}")
    return path


def require_module(name: str, how: str = "`pip install -e '.[test,s3]'` installs it") -> ModuleType:
    """The imported module ``name``, or unavailable (``pytest.importorskip`` that fails in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"cannot import {name} ({exc}); {how}")


def require_native():
    """The native pass's ``frame`` function, or unavailable."""
    from tap_activities.errors import ConfigError
    from tap_activities.sources.peopleai.lines.native import native_frame

    try:
        frame = native_frame()
    except ConfigError as exc:
        unavailable(str(exc))
    if frame is None:
        unavailable(NATIVE_MISSING)
    return frame
