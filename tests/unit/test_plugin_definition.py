"""The published plugin definition and this repository's meltano.yml declare the same tap.

``plugin/extractors/tap-activities.yml`` is what users add to their own projects
(``meltano add tap-activities --from-ref ...``); ``meltano.yml`` is what the rest of the
suite runs. tests/packaging/test_hub_definition.py checks the definition against the
Meltano Hub's plugin schema. tests/unit/test_meltano_yml.py checks meltano.yml against the
tap itself; this file keeps the definition equal to meltano.yml, so neither can lose a
setting the other has (meltano passes a TAP_ACTIVITIES_* variable only for a declared
setting). tests/pipeline/test_stranger_meltano.py runs the definition in a fresh project.
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


# The Hub's own metadata: `meltano add --from-ref` leaves it out of a project's meltano.yml
# (and meltano would list it as "custom extras" there), so meltano.yml does not carry it.
HUB_ONLY = {"domain_url", "keywords", "maintenance_status", "quality", "supported_python_versions"}


def test_definition_equals_meltano_yml_but_for_pip_url(definition, declared):
    assert set(definition) - HUB_ONLY == set(declared)
    for key in declared.keys() - {"pip_url"}:
        assert definition[key] == declared[key], key


def test_settings_are_the_same_names_kinds_and_secrets(definition, declared):
    def shape(plugin: dict) -> dict:
        return {s["name"]: (s["kind"], s.get("sensitive", False)) for s in plugin["settings"]}

    assert shape(definition) == shape(declared)


def test_pip_url_installs_this_version_from_its_tag(definition):
    """Not on PyPI yet: the definition at a tag installs that tag from the project's home."""
    from doctools.home import home
    from tap_activities import __version__

    assert metadata("tap_activities")["Name"] == "tap-activities"
    assert definition["pip_url"] == home().pip_url(f"v{__version__}")


def test_the_header_and_the_readme_give_the_command_that_adds_this_file(definition):
    from doctools.home import home
    from tap_activities import __version__

    relative = DEFINITION.relative_to(ROOT).as_posix()
    command = f"meltano add tap-activities --from-ref {home().raw(f'v{__version__}', relative)}"
    assert f"#   {command}\n" in DEFINITION.read_text()
    for page in ("README.md", "docs/getting-started.md"):
        text = (ROOT / page).read_text()
        assert command in text, page
        assert f"--from-ref ~/src/tap-activities/{relative} --no-install" in text, page
