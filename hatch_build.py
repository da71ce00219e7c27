"""Build the optional native People.ai fragment pass (``lines.cpp`` in ``PACKAGE``).

The extension links the system's simdjson library, found through pkg-config (Debian and
Ubuntu: ``apt install libsimdjson-dev``; macOS: ``brew install simdjson``). Without it the
build goes on without the extension and the tap uses its pure-Python pass, which gives the
same records, only slower (as PyYAML does with LibYAML). What the build needs and the
compiler call live in ``native_build.py`` beside it, which the tap also asks at run time
whether this machine could have built the native pass.

``TAP_ACTIVITIES_NATIVE=0`` skips the extension; ``TAP_ACTIVITIES_NATIVE=1`` makes a
failed build an error instead of a warning (CI sets it, so the native pass is tested).
"""

from __future__ import annotations

import importlib.util
import os
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
    spec.loader.exec_module(module)
    return module


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
            target = Path(self.root) / PACKAGE / name
            target.unlink(missing_ok=True)
        else:
            target = Path(tempfile.mkdtemp(prefix="tap-activities-native-")) / name
        mode = os.environ.get("TAP_ACTIVITIES_NATIVE", "")
        if mode == "0":
            return
        build = native_build(self.root)
        try:
            build.compile_extension(Path(self.root) / SOURCE, target)
        except build.NativeBuildError as exc:
            if mode == "1":
                raise
            self.app.display_warning(
                f"tap-activities: native fragment pass not built ({exc}); "
                "the pure-Python pass will be used"
            )
            return
        if version != "editable":
            build_data["force_include"][str(target)] = f"{PACKAGE.as_posix()}/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
