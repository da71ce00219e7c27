"""The published plugin definition and this repository's meltano.yml declare the same tap.

``plugin/extractors/tap-activities.yml`` is what users add to their own projects
(``meltano add tap-activities --from-ref ...``); ``meltano.yml`` is what the rest of the
suite runs. tests/unit/test_meltano_yml.py checks meltano.yml against the tap itself; this file
keeps the definition equal to meltano.yml, so neither can lose a setting the other has
(meltano passes a TAP_ACTIVITIES_* variable only for a declared setting).
tests/pipeline/test_stranger_meltano.py runs the definition in a fresh project.
"""

from __future__ import annotations

from importlib.metadata import metadata

import pytest
import yaml

from tests.kit.paths import ROOT

DEFINITION = ROOT / "plugin" / "extractors" / "tap-activities.yml"


@pytest.fixture(scope="module")
def definition() -> dict:
    return yaml.safe_load(DEFINITION.read_text())


@pytest.fixture(scope="module")
def declared() -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (plugin,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-activities"]
    return plugin


def test_definition_equals_meltano_yml_but_for_pip_url(definition, declared):
    assert set(definition) == set(declared)
    for key in declared.keys() - {"pip_url"}:
        assert definition[key] == declared[key], key


def test_settings_are_the_same_names_kinds_and_secrets(definition, declared):
    def shape(plugin: dict) -> dict:
        return {s["name"]: (s["kind"], s.get("sensitive", False)) for s in plugin["settings"]}

    assert shape(definition) == shape(declared)


def test_pip_url_installs_this_distribution(definition):
    assert definition["pip_url"] == metadata("tap_activities")["Name"]


def test_the_readme_gives_the_command_that_adds_this_file():
    readme = (ROOT / "README.md").read_text()
    relative = DEFINITION.relative_to(ROOT).as_posix()
    assert f"meltano add tap-activities --from-ref /path/to/tap-activities/{relative}" in readme
