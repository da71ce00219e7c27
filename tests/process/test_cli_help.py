"""What the tap's command line says about itself: ``--help`` and ``--about``.

A stranger reads ``--help`` before anything else; it must describe this tap, not the
SDK's defaults (the SDK's ``--test`` help promises a record per stream, which this tap's
connection test never syncs).
"""

from __future__ import annotations

import json
import os
import subprocess

from tests.kit.tap_process import TAP


def tap_output(*args: str, env: dict[str, str] | None = None) -> str:
    """The tap's stdout for ``args``; fails on a non-zero exit."""
    result = subprocess.run(
        [TAP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_help_says_what_test_does():
    text = " ".join(tap_output("--help").split())
    assert "--test" in text
    assert "single record" not in text
    assert "without creating an export job or writing any record" in text


def test_about_shows_the_fragment_pass_in_text_and_json():
    text = tap_output("--about")
    lines = text.splitlines()
    (line,) = [x for x in lines if x.startswith("People.ai Fragment Pass: ")]
    assert lines.index(line) == 1 + next(
        i for i, x in enumerate(lines) if x.startswith("SDK Version:")
    )
    data = json.loads(tap_output("--about", "--format", "json"))
    used = data["fragment_pass"]
    assert line == f"People.ai Fragment Pass: {used['description']}"
    assert data["name"] == "tap-activities"  # the SDK's fields are all still there
    assert "settings" in data
    if os.environ.get("TAP_ACTIVITIES_NATIVE") == "1":  # CI: built, and required
        assert used["native"] is True
        simdjson = used["simdjson"]
        assert set(simdjson) == {"version", "origin"}
        assert used["description"].startswith(
            f"native (simdjson {simdjson['version']} from "
            + ("the system library" if simdjson["origin"] == "system library" else "pysimdjson ")
        )
    else:
        assert (used["simdjson"] is None) == (not used["native"])
    markdown = tap_output("--about", "--format", "markdown")
    assert f"## People.ai fragment pass\n\n{used['description']}" in markdown


def test_about_with_the_native_pass_switched_off():
    text = tap_output("--about", env={"TAP_ACTIVITIES_NATIVE": "0"})
    assert "People.ai Fragment Pass: pure Python (TAP_ACTIVITIES_NATIVE=0)" in text
    data = json.loads(tap_output("--about", "--format", "json", env={"TAP_ACTIVITIES_NATIVE": "0"}))
    assert data["fragment_pass"] == {
        "native": False,
        "description": "pure Python (TAP_ACTIVITIES_NATIVE=0)",
        "simdjson": None,
    }
