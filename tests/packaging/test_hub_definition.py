"""The plugin definition is complete by the Meltano Hub's own plugin schema.

The rules below are those of the Hub's JSON Schemas for an extractor definition
(meltano/hub: ``schemas/plugin_definitions/extractors.schema.json``, which combines
``schemas/common/common.schema.json``, ``schemas/common/extractors_specific.schema.json``,
``schemas/plugin_definitions/hub_metadata.schema.json`` and, for each setting,
``schemas/common/base_setting.schema.json``), written out here so the check runs offline.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from doctools.home import home

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "plugin" / "extractors" / "tap-activities.yml"
REQUIRED = {"name", "namespace", "variant", "quality"}
ALLOWED = REQUIRED | {
    "pip_url", "label", "description", "executable", "settings", "docs", "repo", "logo_url",
    "hidden", "python", "settings_group_validation", "commands", "capabilities", "metadata",
    "schema", "select", "maintenance_status", "domain_url", "keywords", "requires",
    "definition", "next_steps", "settings_preamble", "usage", "prereq",
    "supported_python_versions", "log_parser",
}  # fmt: skip
CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps",
    "schema-flattening", "activate-version", "batch", "test", "log-based",
    "structured-logging",
}  # fmt: skip
SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip",
    "documentation", "env", "value_processor", "value_post_processor", "oauth", "options",
    "docs", "hidden", "sensitive",
}  # fmt: skip
KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options",
    "object", "array", "boolean", "string", "decimal",
}  # fmt: skip
MAINTENANCE = {"active", "beta", "development", "inactive", "unknown"}
QUALITY = {"gold", "silver", "bronze", "unknown"}


@pytest.fixture(scope="module")
def definition() -> dict:
    return yaml.safe_load(DEFINITION.read_text())


def test_the_hub_s_required_keys_and_no_other_keys(definition):
    assert set(definition) >= REQUIRED
    assert set(definition) <= ALLOWED, set(definition) - ALLOWED
    for key in ("repo", "docs", "domain_url", "keywords", "maintenance_status", "label"):
        assert definition.get(key), f"{key}: the Hub shows it; set it"


def test_the_hub_s_values(definition):
    assert set(definition["capabilities"]) <= CAPABILITIES
    assert definition["maintenance_status"] in MAINTENANCE
    assert definition["quality"] in QUALITY
    assert re.fullmatch(r"https://[^\s/]+(/\S*)?", definition["domain_url"])
    assert all(isinstance(k, str) and k for k in definition["keywords"])
    assert all(re.fullmatch(r"3\.\d+", v) for v in definition["supported_python_versions"])
    assert all(isinstance(group, list) for group in definition["settings_group_validation"])
    for setting in definition["settings"]:
        assert set(setting) <= SETTING_KEYS, setting["name"]
        assert setting.get("kind") in KINDS, setting["name"]


def test_the_variant_repo_and_docs_are_the_project_s_home(definition):
    current = home()
    assert definition["variant"] == current.owner
    assert definition["repo"] == current.url
    assert definition["docs"].startswith(current.url)
    assert DEFINITION.parent.name == "extractors"
    assert definition["name"] == DEFINITION.stem  # the Hub files a plugin under its name
