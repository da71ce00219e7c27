"""The settings as users and meltano see them: their JSON Schema, and words for a misfit.

The schema is what ``--about`` prints, what the Hub-style definition in ``plugin/`` mirrors
and what the SDK validates against; :func:`config_findings` words each way a config can
miss it as one line naming the setting. Values are typed afterwards by :mod:`.settings`.
The days to export come first, each source's settings next (in the order of
``sources.registry.SOURCES``), and how exports run last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft7Validator
from singer_sdk import typing as th

from tap_activities.settings import RANGE_SETTINGS, RUN_SETTINGS, Configurable, shown


def schema_of(sources: Iterable[Configurable]) -> dict[str, Any]:
    """The tap's ``config_jsonschema``: the days to export, each source's, how exports run."""
    return th.PropertiesList(
        *RANGE_SETTINGS,
        *(setting for source in sources for setting in source.options.properties),
        *RUN_SETTINGS,
    ).to_dict()


TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


def config_findings(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Schema findings about ``config``, each naming the setting and the expected form."""
    findings = []
    for error in Draft7Validator(schema).iter_errors(dict(config)):
        name = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in (error.instance or {})]
            findings += [
                f"setting '{'.'.join([name, k]) if name else k}' is required" for k in missing
            ]
        elif error.validator == "type":
            types = (
                error.validator_value
                if isinstance(error.validator_value, list)
                else [error.validator_value]
            )
            expected = " or ".join(TYPE_WORDS[t] for t in types if t in TYPE_WORDS)
            findings.append(f"setting '{name}' must be {expected}, got {shown(error.instance)}")
        elif error.validator == "enum":
            allowed = ", ".join(shown(v) for v in error.validator_value)
            findings.append(
                f"setting '{name}' must be one of {allowed}, got {shown(error.instance)}"
            )
        else:
            findings.append(
                f"setting '{name}' is invalid ({error.validator} {error.validator_value})"
            )
    return findings
