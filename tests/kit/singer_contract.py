"""Judge a tap's output the way a schema-driven target does: record by record, in order.

Every RECORD, and every record of a BATCH file, must be valid against the last SCHEMA
message of its stream written before it: JSON types, ``format: date-time`` (RFC 3339, with
an offset) and every field declared. Validation is jsonschema's, with its format checker.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
if "date-time" not in FORMATS.checkers:  # pragma: no cover - a broken test environment
    msg = "jsonschema cannot check date-time here: install rfc3339-validator (the test extra)"
    raise RuntimeError(msg)


@dataclass
class ContractReport:
    """What the output held, per stream."""

    records: Counter = field(default_factory=Counter)
    schemas: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    """Every SCHEMA message's schema, in order."""
    violations: list[str] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)
    """``stream.field`` of record fields the latest SCHEMA did not list."""
    first_carrier: dict[tuple[str, str], int] = field(default_factory=dict)
    """(stream, field) -> index of the first message whose record carries the field."""

    def latest(self, stream: str) -> dict:
        return self.schemas[stream][-1]


def check_output(messages: list[dict]) -> ContractReport:
    """Validate every record against its stream's latest SCHEMA; BATCH files are read."""
    report = ContractReport()
    validators: dict[str, jsonschema.Draft202012Validator] = {}
    for index, message in enumerate(messages):
        kind, stream = message["type"], message.get("stream")
        if kind == "SCHEMA":
            report.schemas[stream].append(message["schema"])
            validators[stream] = jsonschema.Draft202012Validator(
                message["schema"], format_checker=FORMATS
            )
        elif kind == "RECORD":
            _check(report, validators, stream, message["record"], index)
        elif kind == "BATCH":
            for url in message["manifest"]:
                for record in _batch_records(url):
                    _check(report, validators, stream, record, index)
    return report


def _check(report: ContractReport, validators: dict, stream: str, record: dict, index: int) -> None:
    report.records[stream] += 1
    validator = validators.get(stream)
    if validator is None:
        report.violations.append(f"{stream}: a record before any SCHEMA")
        return
    for error in validator.iter_errors(record):
        report.violations.append(
            f"{stream} {record.get('uid') or record.get('uuid')}: {error.message}"
        )
    declared = validator.schema.get("properties", {})
    for name in record:
        report.first_carrier.setdefault((stream, name), index)
        if name not in declared:
            report.undeclared.append(f"{stream}.{name}")


def _batch_records(url: str) -> list[dict]:
    path = Path(url.removeprefix("file://"))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
