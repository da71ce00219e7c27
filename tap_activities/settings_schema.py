"""The settings as users and meltano see them: their JSON Schema, and words for a misfit.

The schema is what ``--about`` prints, what the Hub-style definition in ``plugin/`` mirrors
and what the SDK validates against; :func:`config_findings` words each way a config can
miss it as one line naming the setting. Values are typed afterwards by :mod:`.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator
from singer_sdk import typing as th

from tap_activities.settings import CHARTMOGUL_DEFAULT_URL, PEOPLEAI_DEFAULT_URL, shown

# Numbers are also accepted as strings: meltano passes environment variables as text.
NUMBER = th.CustomType({"type": ["number", "string"]})
INTEGER = th.CustomType({"type": ["integer", "string"]})

SETTINGS_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "start_date",
        th.DateType,
        required=True,
        description="First UTC day to export (YYYY-MM-DD).",
    ),
    th.Property(
        "end_date",
        th.DateType,
        description="Last UTC day to export, inclusive. Default: today (UTC).",
    ),
    th.Property(
        "peopleai_api_url",
        th.StringType,
        default=PEOPLEAI_DEFAULT_URL,
        description="People.ai API base URL.",
    ),
    th.Property(
        "peopleai_client_id",
        th.StringType,
        secret=True,  # People.ai's "API key": half of the credential pair, never logged
        description="People.ai Activity API key (the client id of the key pair).",
    ),
    th.Property(
        "peopleai_client_secret",
        th.StringType,
        secret=True,
        description="People.ai Activity API client secret.",
    ),
    th.Property(
        "chartmogul_api_url",
        th.StringType,
        default=CHARTMOGUL_DEFAULT_URL,
        description="ChartMogul API base URL.",
    ),
    th.Property(
        "chartmogul_api_key",
        th.StringType,
        secret=True,
        description="ChartMogul API key (HTTP Basic user name).",
    ),
    th.Property(
        "chartmogul_lookback_days",
        INTEGER,
        default=7,
        description=(
            "Days before the bookmark each incremental ChartMogul run exports again, "
            "because ChartMogul recomputes activities after the fact."
        ),
    ),
    th.Property(
        "poll_interval_seconds",
        NUMBER,
        default=30,
        description="Seconds between two status checks of an export job (fractions allowed).",
    ),
    th.Property(
        "job_timeout_seconds",
        NUMBER,
        default=21600,
        description="Deadline of one export job, from creation to completion, in seconds.",
    ),
    th.Property(
        "request_timeout_seconds",
        NUMBER,
        default=60,
        description=(
            "Read timeout of one HTTP request, in seconds (downloads get at least 60 s per 20 MB)."
        ),
    ),
    th.Property(
        "max_retry_seconds",
        NUMBER,
        default=600,
        description=(
            "Total time spent retrying one failing HTTP call (429, 5xx, resets) before giving up."
        ),
    ),
    th.Property(
        "download_workers",
        INTEGER,
        default=4,
        description="Export parts downloaded in parallel (1-16).",
    ),
    th.Property(
        "worker_processes",
        INTEGER,
        description=(
            "Processes for the CPU-bound pass over downloaded exports (People.ai "
            "fragments validated, null-filled and framed or compressed; ChartMogul CSVs "
            "typed and framed in ranges of rows), so more than one core works (0-16; "
            "default: one per CPU core, at most download_workers, and 0 on a one-core "
            "machine; 0: in the tap's own threads). Worker processes need Linux; "
            "elsewhere the tap's threads do this work."
        ),
    ),
).to_dict()
"""The tap's ``config_jsonschema``."""


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
