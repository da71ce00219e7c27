"""How the tap words the fragment pass it runs, for each reason the native one is missing.

The cases other than "native" need an installation without the extension, which this
clone (built with it) is not; tests/packaging/test_native_reinstall.py makes a real one through
meltano. Here the three facts the decision rests on are set directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_activities.sources.peopleai.lines import native_status
from tap_activities.sources.peopleai.lines.native import built_with
from tap_activities.sources.peopleai.lines.native_status import REINSTALL, fragment_pass_status
from tests.kit.must_run import require_native
from tests.kit.paths import ROOT


@pytest.fixture
def no_extension(monkeypatch):
    monkeypatch.delenv("TAP_ACTIVITIES_NATIVE", raising=False)
    monkeypatch.setattr(native_status, "native_frame", lambda: None)
    monkeypatch.setattr(native_status, "_extension_files", list)


def test_a_machine_that_cannot_build_it_is_told_at_info_level(no_extension, monkeypatch):
    monkeypatch.setattr(native_status, "missing_for_build", lambda: "no C++ compiler 'g++' on PATH")
    used = fragment_pass_status()
    assert not used.native
    assert not used.warn
    assert used.description == (
        "pure Python (the native pass is not built here: no C++ compiler 'g++' on PATH)"
    )


def test_a_machine_that_could_build_it_gets_a_warning_with_the_recipe(no_extension, monkeypatch):
    monkeypatch.setattr(native_status, "missing_for_build", lambda: None)
    used = fragment_pass_status()
    assert not used.native
    assert used.warn
    assert "cached wheel" in used.description
    assert "a C++ compiler and Python's headers; simdjson comes with pysimdjson" in (
        used.description
    )
    assert used.description.endswith(REINSTALL)


def test_an_extension_that_does_not_load_gets_a_warning(no_extension, monkeypatch):
    broken = Path("_lines.cpython-311-x86_64-linux-gnu.so")
    monkeypatch.setattr(native_status, "_extension_files", lambda: [broken])
    monkeypatch.setattr(native_status, "_import_error", lambda: "libsimdjson.so.19: not found")
    used = fragment_pass_status()
    assert used.warn
    assert f"installed ({broken.name}) but cannot be loaded: libsimdjson.so.19" in (
        used.description
    )


def test_the_native_pass_names_its_simdjson():
    require_native()
    used = fragment_pass_status()
    assert used.native
    assert not used.warn
    assert used.simdjson == built_with()
    version, origin = used.simdjson["version"], used.simdjson["origin"]
    assert origin == "system library" or origin.startswith("pysimdjson ")
    where = "the system library" if origin == "system library" else origin
    assert used.description.startswith(f"native (simdjson {version} from {where}, ")
    assert used.description.endswith(" kernel)")


def test_switched_off_is_not_a_warning(monkeypatch):
    monkeypatch.setenv("TAP_ACTIVITIES_NATIVE", "0")
    used = fragment_pass_status()
    assert (used.native, used.warn) == (False, False)
    assert used.description == "pure Python (TAP_ACTIVITIES_NATIVE=0)"


def test_the_warning_gives_the_recipe_the_docs_document():
    readme = (ROOT / "docs" / "native-pass.md").read_text()
    meltano, pip = REINSTALL.split(": ", 1)[1].split(" (pip: ")
    assert meltano in readme
    assert pip.rstrip(")").replace("<pip_url>", "'<pip_url>'") in readme
