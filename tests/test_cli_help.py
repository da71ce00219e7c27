"""What the tap's command line says about itself: ``--help`` and ``--about``.

A stranger reads ``--help`` before anything else; it must describe this tap, not the
SDK's defaults (the SDK's ``--test`` help promises a record per stream, which this tap's
connection test never syncs).
"""

from __future__ import annotations

import subprocess

from tests.tap_process import TAP


def tap_output(*args: str) -> str:
    """The tap's stdout for ``args``; fails on a non-zero exit."""
    result = subprocess.run([TAP, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_help_says_what_test_does():
    text = " ".join(tap_output("--help").split())
    assert "--test" in text
    assert "single record" not in text
    assert "without creating an export job or writing any record" in text
