"""Locate the JSON Schema files shipped with the tap.

The files live in the repository's top-level ``schemas/`` folder; the wheel carries them as
``tap_activities/schemas/``. Both places are tried so that editable and regular installs
behave the same.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (_HERE / "schemas", _HERE.parent / "schemas")


def schema_path(stream_name: str) -> Path:
    """Return the schema file of a stream."""
    for folder in _CANDIDATES:
        path = folder / f"{stream_name}.json"
        if path.is_file():
            return path
    msg = f"schema file for stream {stream_name!r} is missing from the installation"
    raise FileNotFoundError(msg)
