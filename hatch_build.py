"""Build the optional native fragment pass (``tap_activities/native_lines.cpp``).

The extension links the system's simdjson library, found through pkg-config (Debian and
Ubuntu: ``apt install libsimdjson-dev``; macOS: ``brew install simdjson``). Without it the
build goes on without the extension and the tap uses its pure-Python pass, which gives the
same records, only slower (as PyYAML does with LibYAML).

``TAP_ACTIVITIES_NATIVE=0`` skips the extension; ``TAP_ACTIVITIES_NATIVE=1`` makes a
failed build an error instead of a warning (CI sets it, so the native pass is tested).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("tap_activities") / "native_lines.cpp"
MODULE = "_native_lines"


class NativeBuildError(Exception):
    """The extension could not be compiled here; the message says why."""


class NativeLinesHook(BuildHookInterface):
    """Compiles the extension into the wheel, or next to the source for editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the extension unless switched off; a failure only warns unless required."""
        if self.target_name != "wheel":
            return
        name = MODULE + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        # An editable install imports the package from the source tree, so the extension
        # goes there (git ignores it), replacing any earlier build; a wheel carries it
        # from a scratch folder.
        if version == "editable":
            target = Path(self.root) / "tap_activities" / name
            target.unlink(missing_ok=True)
        else:
            target = Path(tempfile.mkdtemp(prefix="tap-activities-native-")) / name
        mode = os.environ.get("TAP_ACTIVITIES_NATIVE", "")
        if mode == "0":
            return
        try:
            compile_extension(Path(self.root) / SOURCE, target)
        except NativeBuildError as exc:
            if mode == "1":
                raise
            self.app.display_warning(
                f"tap-activities: native fragment pass not built ({exc}); "
                "the pure-Python pass will be used"
            )
            return
        if version != "editable":
            build_data["force_include"][str(target)] = f"tap_activities/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True


def compile_extension(source: Path, target: Path) -> None:
    """Compile ``source`` into the Python extension ``target`` against simdjson."""
    compiler = shlex.split(sysconfig.get_config_var("CXX") or "c++")
    if shutil.which(compiler[0]) is None:
        msg = f"no C++ compiler '{compiler[0]}' on PATH"
        raise NativeBuildError(msg)
    command = [
        *compiler,
        "-O2",
        "-std=c++17",
        "-fPIC",
        "-fvisibility=hidden",
        "-shared",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(target),
        *simdjson_flags(),
    ]
    if sys.platform == "darwin":
        command += ["-undefined", "dynamic_lookup"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        msg = f"{compiler[0]} failed: {last}"
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
