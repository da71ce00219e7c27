"""The tap as a process on a patched singer-sdk: what a release that changes a private name does.

Each run patches the installed SDK the way a release could change it, then starts the tap
(tests/unit/test_sdk_hooks.py checks each name on its own): the SDK's own settings check,
the SDK's own ``--about``, or one error line before any export for names no SDK path can
do without. (A changed fast-path hook, which sends every stream down the SDK's own record
path, is run in tests/process/test_stopping.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from singer_sdk import about

from tap_activities.tap import TapActivities
from tests.kit.tap_process import CLI_ERROR, start_tap
from tests.kit.upstream import peopleai_config


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
