"""meltano.yml declares the extractor as the tap really is, so it can go to the Hub as it is.

A setting added to the tap but not to meltano.yml cannot be set through meltano; a secret
not marked sensitive is printed by `meltano config`; a number declared `kind: decimal`
crashes meltano 4.4.1 when it comes from an environment variable.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from tap_activities.tap import TapActivities
from tests.kit.paths import ROOT

# SDK settings a user of this tap has no reason to set through meltano.
SDK_INTERNAL = {"faker_config", "flattening_max_key_length", "flattening_separator"}


@pytest.fixture(scope="module")
def project() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


@pytest.fixture(scope="module")
def extractor(project) -> dict:
    (plugin,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-activities"]
    return plugin


def tap_settings() -> dict[str, dict]:
    """The tap's settings as `--about` lists them, the SDK's built-in ones included."""
    schema = copy.deepcopy(TapActivities.config_jsonschema)
    TapActivities.append_builtin_config(schema)
    return schema["properties"]


def test_every_tap_setting_is_declared_and_nothing_else(extractor):
    declared = {s["name"] for s in extractor["settings"]}
    assert declared == set(tap_settings()) - SDK_INTERNAL


def test_secrets_are_sensitive_and_only_they(extractor):
    secrets = {name for name, schema in tap_settings().items() if schema.get("secret")}
    sensitive = {s["name"] for s in extractor["settings"] if s.get("sensitive")}
    assert (
        secrets
        == sensitive
        == {
            "peopleai_client_id",  # People.ai's "API key": the tap redacts it as a secret
            "peopleai_client_secret",
            "chartmogul_api_key",
        }
    )


def test_every_setting_has_a_kind_label_and_description(extractor):
    for setting in extractor["settings"]:
        assert setting.get("kind"), setting["name"]
        assert setting.get("label"), setting["name"]
        assert setting.get("description"), setting["name"]
        assert setting["kind"] != "decimal", f"{setting['name']}: decimal breaks env vars"


def test_defaults_match_the_tap(extractor):
    for setting in extractor["settings"]:
        default = tap_settings()[setting["name"]].get("default")
        if "value" in setting:
            assert str(setting["value"]) == str(default), setting["name"]


def test_capabilities_match_the_tap(extractor):
    assert set(extractor["capabilities"]) == {str(c) for c in TapActivities.capabilities}


def test_plugins_are_declared_in_full_for_offline_installs(project):
    for kind in ("extractors", "loaders"):
        declared = {p["name"]: p for p in project["plugins"][kind]}
        for plugin in declared.values():
            # A tenant's (or the fake's) plugin is complete through parents declared here, up
            # to one declared in full (the tenants' loaders inherit target-postgres-batch,
            # which inherits target-postgres).
            root, chain = plugin, [plugin["name"]]
            while "inherit_from" in root:
                root = declared.get(root["inherit_from"])
                assert root is not None, f"{chain[0]}: no parent in meltano.yml ({chain})"
                assert root["name"] not in chain, f"{chain[0]}: a cycle ({chain})"
                chain.append(root["name"])
            assert len(chain) <= 3, f"{chain[0]}: inherits too deep to follow ({chain})"
            for key in ("namespace", "pip_url", "executable"):
                assert root.get(key), f"{root['name']}: {key} missing"
    loaders = {p["name"] for p in project["plugins"]["loaders"]}
    assert {"target-postgres", "target-duckdb", "target-snowflake"} <= loaders
    assert {e["name"] for e in project["environments"]} >= {"local"}


def test_installs_compile_bytecode(project):
    """meltano's installer (uv) compiles no bytecode unless asked, and where
    PYTHONDONTWRITEBYTECODE is set Python never writes it: every plugin start would compile
    its imports again (target-postgres: 3 s instead of under 1 s). meltano passes the project's
    ``env`` to the installer.
    """
    assert project.get("env", {}).get("UV_COMPILE_BYTECODE") == "1"
