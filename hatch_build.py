"""Build the optional native People.ai fragment pass (``lines.cpp`` in ``PACKAGE``).

The extension needs a C++ compiler and Python's headers. It links the system's simdjson
library when pkg-config knows it (Debian and Ubuntu: ``apt install libsimdjson-dev``;
macOS: ``brew install simdjson``), and otherwise compiles in the copy of simdjson's
source that pysimdjson's wheel ships (pysimdjson is a build requirement as well as a
dependency). Without a compiler or Python's headers the build goes on without the
extension and the tap uses its pure-Python pass, which gives the same records, only
slower (as PyYAML does with LibYAML). What the build needs and the compiler calls live in
``native_build.py`` beside it, which the tap also asks at run time whether this machine
could have built the native pass.

``TAP_ACTIVITIES_NATIVE=0`` skips the extension; ``TAP_ACTIVITIES_NATIVE=1`` makes a
failed build an error instead of a warning (CI sets it, so the native pass is tested).

A wheel's extension is compiled into a temporary folder, removed once the wheel is
packed; folders that builds killed before that left behind are removed by the next
build once they are an hour old (a build takes seconds, and a concurrent build's folder
must not go).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = Path("tap_activities") / "sources" / "peopleai" / "lines"
SOURCE = PACKAGE / "lines.cpp"
BUILD_MODULE = PACKAGE / "native_build.py"
MODULE = "_lines"


def native_build(root: str) -> ModuleType:
    """``native_build.py`` loaded by path: the package is not importable yet."""
    spec = importlib.util.spec_from_file_location(
        "tap_activities_native_build", Path(root) / BUILD_MODULE
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # where its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


class NativeLinesHook(BuildHookInterface):
    """Compiles the extension into the wheel, or next to the source for editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the extension unless switched off; a failure only warns unless required."""
        self._scratch: Path | None = None
        if self.target_name != "wheel":
            return
        name = MODULE + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        # An editable install imports the package from the source tree, so the extension
        # goes there (git ignores it), replacing any earlier build; a wheel carries it
        # from a scratch folder, removed in finalize().
        target = Path(self.root) / PACKAGE / name
        if version == "editable":
            target.unlink(missing_ok=True)
        mode = os.environ.get("TAP_ACTIVITIES_NATIVE", "")
        if mode == "0":
            return
        build = native_build(self.root)
        build.remove_stale_scratch()
        if version != "editable":
            self._scratch = Path(tempfile.mkdtemp(prefix=build.SCRATCH_PREFIX))
            target = self._scratch / name
        try:
            used = build.compile_extension(Path(self.root) / SOURCE, target)
        except build.NativeBuildError as exc:
            self._remove_scratch()
            if mode == "1":
                raise
            self.app.display_warning(
                f"tap-activities: native fragment pass not built ({exc}); "
                "the pure-Python pass will be used"
            )
            return
        self.app.display_info(f"tap-activities: native fragment pass built ({used.origin})")
        if version != "editable":
            build_data["force_include"][str(target)] = f"{PACKAGE.as_posix()}/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """The wheel holds the extension now: its scratch folder goes."""
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if getattr(self, "_scratch", None) is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
