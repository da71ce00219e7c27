"""What building the native fragment pass needs, and the build itself.

Two users: ``hatch_build.py`` compiles the extension when the package is built (it loads
this file by path, without importing the package), and the tap, when it runs the Python
pass, asks :func:`missing_for_build` whether this machine could have built the native one.
If it could, the installation was built elsewhere or from a cached wheel made without it
(uv and pip both reuse a wheel they built before), and the tap says so as a warning with
the reinstall recipe, instead of running slower without a word.

Only the standard library is used here: the build runs in an isolated environment.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path


class NativeBuildError(Exception):
    """The extension cannot be compiled here; the message says why."""


def compiler() -> list[str]:
    """The C++ compiler Python was built with (``CXX``), as a command, or ``c++``."""
    return shlex.split(sysconfig.get_config_var("CXX") or "c++")


def missing_for_build() -> str | None:
    """Why the native pass cannot be built on this machine, or None when it can.

    It can when the three things the build uses are there: a C++ compiler on PATH,
    Python's headers, and simdjson known to pkg-config.
    """
    try:
        simdjson_flags()
        _check_compiler()
        _check_python_headers()
    except NativeBuildError as exc:
        return str(exc)
    return None


def compile_extension(source: Path, target: Path) -> None:
    """Compile ``source`` into the Python extension ``target`` against simdjson."""
    flags = simdjson_flags()
    _check_compiler()
    _check_python_headers()
    command = [
        *compiler(),
        "-O2",
        "-std=c++17",
        "-fPIC",
        "-fvisibility=hidden",
        "-shared",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(target),
        *flags,
    ]
    if sys.platform == "darwin":
        command += ["-undefined", "dynamic_lookup"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        msg = f"{compiler()[0]} failed: {last}"
        raise NativeBuildError(msg)


def simdjson_flags() -> list[str]:
    """Compiler and linker flags for simdjson, as its pkg-config file gives them."""
    if shutil.which("pkg-config") is None:
        msg = "pkg-config is not installed, so simdjson cannot be found"
        raise NativeBuildError(msg)
    result = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "simdjson"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = (
            "simdjson is not installed, pkg-config does not know it: "
            "apt install libsimdjson-dev, or brew install simdjson"
        )
        raise NativeBuildError(msg)
    return shlex.split(result.stdout)


def _check_compiler() -> None:
    if shutil.which(compiler()[0]) is None:
        msg = f"no C++ compiler '{compiler()[0]}' on PATH"
        raise NativeBuildError(msg)


def _check_python_headers() -> None:
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        msg = f"Python's headers are not installed: no Python.h in {include}"
        raise NativeBuildError(msg)
