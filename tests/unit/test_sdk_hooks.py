"""Every private singer-sdk name the tap touches is checked at start-up, one test per name.

The checks run against Stream and Tap classes whose private names are changed the way an
SDK release could change them. What a change does to a run of the tap is run in
tests/process/test_patched_sdk.py.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap

from tap_activities.singer import sdk_hooks


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
