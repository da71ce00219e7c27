"""`python -m activities_upstream`: its --help says what it prints, and it prints that.

A stranger starting the local upstream by hand needs to know that the URLs and the
credentials to give the tap come on stdout as one JSON line, and that the ports are
random unless given.
"""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import urlsplit

from tests.kit.paths import ROOT

KEYS = (
    "peopleai_url",
    "chartmogul_url",
    "files_url",
    "peopleai_client_id",
    "peopleai_client_secret",
    "chartmogul_api_key",
)


def test_help_says_it_prints_urls_and_credentials_and_that_ports_are_random():
    result = subprocess.run(
        [sys.executable, "-m", "activities_upstream", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(result.stdout.split())
    assert "prints one JSON line on stdout with the three URLs and the credentials" in text
    for key in KEYS:
        assert key in text
    assert "ports are random free ports unless given with --peopleai-port" in text
    assert text.count("(default: a random free port)") == 3


def test_it_prints_what_its_help_promises(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "activities_upstream", "--ready-file", str(tmp_path / "up.json")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        printed = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert tuple(printed) == KEYS
    assert json.loads((tmp_path / "up.json").read_text()) == printed
    ports = {urlsplit(printed[key]).port for key in KEYS[:3]}
    assert len(ports) == 3
    assert not ports & {18401, 18402, 18403}  # not the ports `make upstream` gives
