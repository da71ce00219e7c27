"""Where the repository is, for tests and kits that run its scripts or read its files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: the folder that holds ``tests/``."""
