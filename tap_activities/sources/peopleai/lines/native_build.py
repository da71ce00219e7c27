"""What building the native fragment pass needs, and the build itself.

Two users: ``hatch_build.py`` compiles the extension when the package is built (it loads
this file by path, without importing the package), and the tap, when it runs the Python
pass, asks :func:`missing_for_build` whether this machine could have built the native one.
If it could, the installation was built elsewhere or from a cached wheel made without it
(uv and pip both reuse a wheel they built before), and the tap says so as a warning with
the reinstall recipe, instead of running slower without a word.

The build needs a C++ compiler and Python's headers; simdjson comes from the system
library when pkg-config knows it (Debian and Ubuntu: ``libsimdjson-dev``; macOS:
``brew install simdjson``), and otherwise from pysimdjson, a dependency of the tap whose
wheels (7.0 and later) ship simdjson's single-file source, ``simdjson.cpp`` and
``simdjson.h``. That copy is compiled with the pass, in parallel with it (about 10 s more
on two cores), into the extension itself: nothing to install, nothing to find at run time.

Only the standard library is used here: the build runs in an isolated environment.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCRATCH_PREFIX = "tap-activities-native-"
"""Temporary folders of a build (objects, a wheel's extension before it is packed)."""
STALE_SCRATCH_SECONDS = 3600.0
"""A build's temporary folder older than this belongs to no build still running."""


class NativeBuildError(Exception):
    """The extension cannot be compiled here; the message says why."""


@dataclass(frozen=True)
class Simdjson:
    """Where a build takes simdjson from."""

    origin: str
    """``system library``, or ``pysimdjson 7.0.2``: what ``--about`` says next to its version."""
    flags: tuple[str, ...] = ()
    """The system library's compiler and linker flags (pkg-config's)."""
    source: Path | None = None
    """pysimdjson's ``simdjson.cpp``, compiled with the pass (its header beside it)."""


def compiler() -> list[str]:
    """The C++ compiler, as a command: ``CXX`` if set, else the one Python was built with.

    ``c++`` when neither says.
    """
    return shlex.split(os.environ.get("CXX") or sysconfig.get_config_var("CXX") or "c++")


def missing_for_build() -> str | None:
    """Why the native pass cannot be built on this machine, or None when it can.

    It can when the three things the build uses are there: a C++ compiler on PATH,
    Python's headers, and simdjson (the system's, or pysimdjson's copy).
    """
    try:
        find_simdjson()
        _check_compiler()
        _check_python_headers()
    except NativeBuildError as exc:
        return str(exc)
    return None


def find_simdjson() -> Simdjson:
    """The system library when pkg-config knows it, else pysimdjson's copy."""
    system = _system_simdjson()
    if system is not None:
        return system
    bundled = _bundled_simdjson()
    if bundled is not None:
        return bundled
    msg = (
        "simdjson was not found: pkg-config does not know it (apt install libsimdjson-dev, "
        "or brew install simdjson), and the installed pysimdjson does not ship its source "
        "(pysimdjson 7.0 and later do)"
    )
    raise NativeBuildError(msg)


def compile_extension(
    source: Path, target: Path, *, extra_flags: Sequence[str] = (), optimize: str = "-O2"
) -> Simdjson:
    """Compile ``source`` into the Python extension ``target``; the simdjson it used.

    ``extra_flags`` go to every compiler call, the link included (sanitizers).
    """
    simdjson = find_simdjson()
    _check_compiler()
    _check_python_headers()
    common = [*compiler(), optimize, "-std=c++17", "-fPIC", "-fvisibility=hidden", *extra_flags]
    origin = f'-DTAP_ACTIVITIES_SIMDJSON_ORIGIN="{simdjson.origin}"'
    python = f"-I{sysconfig.get_paths()['include']}"
    link = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
    if simdjson.source is None:
        flags = [*simdjson.flags, *link]
        _run([[*common, "-shared", python, origin, str(source), "-o", str(target), *flags]])
        return simdjson
    bundled = f"-I{simdjson.source.parent}"
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        objects = [str(Path(scratch) / "lines.o"), str(Path(scratch) / "simdjson.o")]
        _run(
            [
                [*common, "-c", python, bundled, origin, str(source), "-o", objects[0]],
                [*common, "-c", bundled, str(simdjson.source), "-o", objects[1]],
            ]
        )
        _run([[*common, "-shared", *objects, "-o", str(target), *link]])
    return simdjson


def remove_stale_scratch(now: float | None = None) -> list[str]:
    """Remove the temporary folders of builds that ended without removing them; their names.

    A build removes its own; one killed first leaves it. Only folders an hour old go: a
    build takes seconds, and a concurrent build's folder must stay.
    """
    now = time.time() if now is None else now
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            if now - folder.stat().st_mtime <= STALE_SCRATCH_SECONDS:
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def _run(commands: list[list[str]]) -> None:
    """Run the compiler calls at once (each a process); the first failure is raised."""
    running = [
        subprocess.Popen(  # noqa: S603 - the compiler, on the package's own files
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    failures = []
    for process in running:
        _, stderr = process.communicate()
        if process.returncode != 0:
            failures.append((stderr.strip().splitlines() or ["no message"])[-1])
    if failures:
        msg = f"{compiler()[0]} failed: {failures[0]}"
        raise NativeBuildError(msg)


def _system_simdjson() -> Simdjson | None:
    """The system library, as pkg-config gives its flags (None: it does not know it)."""
    if shutil.which("pkg-config") is None:
        return None
    result = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "simdjson"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return Simdjson("system library", flags=tuple(shlex.split(result.stdout)))


def _bundled_simdjson() -> Simdjson | None:
    """The copy of simdjson's source pysimdjson ships, found without importing it."""
    try:
        spec = importlib.util.find_spec("simdjson")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        source = Path(folder) / "simdjson.cpp"
        if source.is_file() and source.with_name("simdjson.h").is_file():
            try:
                version = importlib.metadata.version("pysimdjson")
            except importlib.metadata.PackageNotFoundError:
                version = "(version unknown)"
            return Simdjson(f"pysimdjson {version}", source=source)
    return None


def _check_compiler() -> None:
    if shutil.which(compiler()[0]) is None:
        msg = f"no C++ compiler '{compiler()[0]}' on PATH"
        raise NativeBuildError(msg)


def _check_python_headers() -> None:
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        msg = f"Python's headers are not installed: no Python.h in {include}"
        raise NativeBuildError(msg)
