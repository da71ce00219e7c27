"""Every private singer-sdk name the tap touches is checked at start-up, one test per name.

The checks run against Stream and Tap classes whose private names are changed the way an
SDK release could change them; two runs of the tap as a process, with the installed SDK
patched, show what a change does: the SDK's own settings check, or one error line before
any export for names no SDK path can do without, the SDK's own ``--about``. (A changed
fast-path hook, which sends every stream down the SDK's own record path, is run in
tests/test_stopping.py.)
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap, about

from tap_activities.singer import sdk_hooks
from tap_activities.tap import TapActivities
from tests.conftest import peopleai_config
from tests.tap_process import CLI_ERROR, start_tap


def _other_parameters(self, *args, changed=None, **kwargs):
    """A stand-in with parameters no SDK release of ours had."""


@pytest.mark.parametrize("name", [*sdk_hooks.FAST_PATH_HOOKS, *sdk_hooks.REQUIRED_HOOKS])
def test_a_stream_method_with_other_parameters_is_named(name):
    assert name not in " ".join(
        sdk_hooks.changed_fast_path_hooks() + sdk_hooks.changed_required_names()
    )
    changed = type("ChangedStream", (Stream,), {name: _other_parameters})
    found = sdk_hooks.changed_methods(
        changed, {**sdk_hooks.FAST_PATH_HOOKS, **sdk_hooks.REQUIRED_HOOKS}
    )
    assert found == [f"{name}(args, changed, kwargs)"]


@pytest.mark.parametrize("name", [*sdk_hooks.FAST_PATH_HOOKS, *sdk_hooks.REQUIRED_HOOKS])
def test_a_stream_method_that_is_gone_is_named(name):
    changed = type("ChangedStream", (Stream,), {name: None})
    found = sdk_hooks.changed_methods(
        changed, {**sdk_hooks.FAST_PATH_HOOKS, **sdk_hooks.REQUIRED_HOOKS}
    )
    assert found == [f"{name} (gone)"]


def test_the_fast_path_names_and_the_required_names_are_told_apart():
    changed = type("ChangedStream", (Stream,), {"_finalize_state": _other_parameters})
    assert sdk_hooks.changed_fast_path_hooks(changed) == ["_finalize_state(args, changed, kwargs)"]
    assert sdk_hooks.changed_required_names(changed) == []
    changed = type("ChangedStream", (Stream,), {"_write_schema_message": _other_parameters})
    assert sdk_hooks.changed_fast_path_hooks(changed) == []
    assert sdk_hooks.changed_required_names(changed) == [
        "_write_schema_message(args, changed, kwargs)"
    ]


def _init_without(name: str):
    """A Stream ``__init__`` that no longer sets ``name`` (an SDK that renamed it)."""

    def __init__(self, tap, schema=None, name=None):  # noqa: N807
        self.renamed_tap = tap
        self.renamed_maps = None

    return __init__


@pytest.mark.parametrize("name", list(sdk_hooks.STREAM_ATTRIBUTES))
def test_a_stream_attribute_the_sdk_no_longer_sets_is_named(name):
    assert sdk_hooks.changed_attributes(Stream) == []
    changed = type("ChangedStream", (Stream,), {"__init__": _init_without(name)})
    assert f"{name} (unused by the SDK)" in sdk_hooks.changed_attributes(changed)


def test_stream_maps_cache_the_sdk_no_longer_reads_is_named():
    changed = type("ChangedStream", (Stream,), {"stream_maps": property(lambda self: [])})
    assert sdk_hooks.changed_attributes(changed) == ["_stream_maps (unused by the SDK)"]


def test_the_catalog_helper_changed_or_gone_is_named():
    assert sdk_hooks.changed_catalog_helper() == []
    moved = types.SimpleNamespace(pop_deselected_record_properties=lambda record, schema: None)
    assert sdk_hooks.changed_catalog_helper(moved) == [
        "helpers._catalog.pop_deselected_record_properties(record, schema)"
    ]
    assert sdk_hooks.changed_catalog_helper(types.SimpleNamespace()) == [
        "helpers._catalog.pop_deselected_record_properties (gone)"
    ]


def test_a_tap_settings_check_with_other_parameters_is_named():
    assert sdk_hooks.changed_methods(Tap, sdk_hooks.TAP_HOOKS) == []
    changed = type("ChangedTap", (Tap,), {"_validate_config": _other_parameters})
    assert sdk_hooks.changed_methods(changed, sdk_hooks.TAP_HOOKS) == [
        "_validate_config(args, changed, kwargs)"
    ]


def test_a_state_flag_the_sdk_no_longer_sets_or_obeys_is_named():
    assert sdk_hooks.changed_state_flag() == []
    renamed = ["state_manager.is_flushed (unused by the SDK)"]

    class RenamedManager:  # an SDK whose state manager calls the flag otherwise
        def __init__(self):
            self.flushed = True

    renamed_module = types.SimpleNamespace(StreamStateManager=RenamedManager)
    assert sdk_hooks.changed_state_flag(Stream, renamed_module) == renamed

    def _write_state_message(self):
        if not self.state_manager.flushed:
            self.state_manager.flushed = True

    changed = type("ChangedStream", (Stream,), {"_write_state_message": _write_state_message})
    assert sdk_hooks.changed_state_flag(changed) == renamed
    assert sdk_hooks.changed_required_names(changed) == renamed
    assert sdk_hooks.changed_state_flag(Stream, types.SimpleNamespace()) == [
        "streams._state.StreamStateManager (gone)"
    ]


def test_an_about_hook_changed_or_gone_is_named():
    assert sdk_hooks.changed_about_hook() == []
    changed = type("ChangedTap", (Tap,), {"_get_about_info": classmethod(_other_parameters)})
    assert sdk_hooks.changed_about_hook(changed) == ["_get_about_info(args, changed, kwargs)"]
    gone = type("ChangedTap", (Tap,), {"_get_about_info": None})
    assert sdk_hooks.changed_about_hook(gone) == ["_get_about_info (gone)"]


def _patched_tap(patch: str) -> list[str]:
    return [sys.executable, "-c", f"{patch}\nfrom tap_activities.tap import cli\ncli()\n"]


def test_an_sdk_without_a_required_name_stops_before_any_export(upstream, tmp_path):
    patch = (
        "import singer_sdk.streams.core as core\n"
        "core.Stream._write_schema_message_v2 = core.Stream._write_schema_message\n"
        "del core.Stream._write_schema_message\n"
    )
    jobs_before = len(upstream.peopleai.jobs())
    proc = start_tap(peopleai_config(upstream), tmp_path, argv=_patched_tap(patch))
    out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode != 0
    errors = [line for line in err.splitlines() if line.startswith(CLI_ERROR)]
    assert len(errors) == 1, err[-3000:]
    assert "_write_schema_message (gone)" in errors[0]
    assert "Traceback" not in err
    assert not [m for m in map(json.loads, out.splitlines()) if m["type"] == "RECORD"]
    assert len(upstream.peopleai.jobs()) == jobs_before


def test_an_sdk_with_a_changed_settings_check_words_findings_its_own_way(upstream, tmp_path):
    patch = (
        "import singer_sdk.plugin_base as base\n"
        "original = base.PluginBase._validate_config\n"
        "def _validate_config(self, *, raise_errors=True, strict=False):\n"
        "    return original(self, raise_errors=raise_errors)\n"
        "base.PluginBase._validate_config = _validate_config\n"
    )
    config = {**peopleai_config(upstream), "max_retry_seconds": "soon"}
    proc = start_tap(config, tmp_path, argv=_patched_tap(patch))
    _out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode != 0
    warnings = [line for line in err.splitlines() if "changed how it checks settings" in line]
    assert len(warnings) == 1, err[-3000:]
    assert "_validate_config(raise_errors, strict)" in warnings[0]
    assert "Invalid settings" not in err  # the SDK's check words nothing of its own here
    errors = [line for line in err.splitlines() if line.startswith(CLI_ERROR)]
    assert len(errors) == 1, err[-3000:]
    assert "'max_retry_seconds'" in errors[0]  # the settings parser still names it
    assert "Traceback" not in err


def test_an_sdk_that_renamed_the_state_flag_stops_before_any_export(upstream, tmp_path):
    # Its STATE messages would otherwise stop after the first: a run killed later would
    # resume from its first window.
    patch = (
        "import singer_sdk.streams._state as state\n"
        "import singer_sdk.streams.core as core\n"
        "init = state.StreamStateManager.__init__\n"
        "def __init__(self, *args, **kwargs):\n"
        "    init(self, *args, **kwargs)\n"
        "    self.flushed = True\n"
        "state.StreamStateManager.__init__ = __init__\n"
        "def _write_state_message(self):\n"
        "    if not self.state_manager.flushed:\n"
        "        self._tap.state_writer.write_state(self.tap_state)\n"
        "        self.state_manager.flushed = True\n"
        "core.Stream._write_state_message = _write_state_message\n"
    )
    jobs_before = len(upstream.peopleai.jobs())
    proc = start_tap(peopleai_config(upstream), tmp_path, argv=_patched_tap(patch))
    out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 1
    errors = [line for line in err.splitlines() if line.startswith(CLI_ERROR)]
    assert errors == [
        f"{CLI_ERROR} this singer-sdk release changed internals the tap needs "
        "(state_manager.is_flushed (unused by the SDK)); install the singer-sdk version "
        "the tap's package requires"
    ], err[-3000:]
    assert not [m for m in map(json.loads, out.splitlines()) if m["type"] == "RECORD"]
    assert len(upstream.peopleai.jobs()) == jobs_before


def test_an_sdk_with_a_changed_about_hook_prints_its_own_about(tmp_path):
    patch = (
        "import singer_sdk.plugin_base as base\n"
        "original = base.PluginBase._get_about_info.__func__\n"
        "def _get_about_info(cls, with_settings=True):\n"
        "    return original(cls)\n"
        "base.PluginBase._get_about_info = classmethod(_get_about_info)\n"
    )
    done = subprocess.run(
        [*_patched_tap(patch), "--about"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stderr.splitlines() if "changed how it gathers" in line]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert "(_get_about_info(with_settings))" in warnings[0]
    sdk_text = about.AboutFormatter.get_formatter("text").format_about(
        TapActivities._get_about_info()
    )
    assert done.stdout == sdk_text + "\n"  # the SDK's, without the fragment pass
    assert "Fragment Pass" not in done.stdout


def _sdk_private_names() -> set[str]:
    """The private names of the SDK's Stream and Tap (their instances' too), and the flag."""
    names = {name for cls in (Stream, Tap) for name in dir(cls)}
    names |= {name for cls in (Stream, Tap) for name in cls.__init__.__code__.co_names}
    private = {n for n in names if n.startswith("_") and not n.startswith("__")}
    return private | {sdk_hooks.FLUSHED}


def test_no_module_but_sdk_hooks_touches_a_private_sdk_name():
    """What the module's docstring promises: a name an SDK release may change is here alone.

    (``helpers._batch`` is named in type hints only, which the docstring allows.)
    """
    private = _sdk_private_names()
    assert {"_tap", "_stream_maps", "_get_about_info", "_write_state_message"} <= private
    package = Path(sdk_hooks.__file__).parents[1]
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "sdk_hooks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(package)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{where} .{node.attr}")
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            parts = module.split(".")
            if (
                parts[0] == "singer_sdk"
                and any(part.startswith("_") for part in parts)
                and module != "singer_sdk.helpers._batch"
            ):
                found.append(f"{where} {module}")
    assert found == []
