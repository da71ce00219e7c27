"""Locate the JSON Schema files shipped with the tap.

The files live in the repository's top-level ``schemas/`` folder; the wheel carries them as
``tap_activities/schemas/``. Both places are tried so that editable and regular installs
behave the same.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def schema_directory() -> Path:
    """The folder holding one ``<stream>.json`` schema per stream."""
    for folder in (_HERE / "schemas", _HERE.parent / "schemas"):
        if (folder / "peopleai_email.json").is_file():
            return folder
    msg = "the tap's schemas/ folder is missing from the installation"
    raise FileNotFoundError(msg)
