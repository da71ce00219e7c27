"""The glibc settings that keep the fragment pass's freed buffers in the process."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings: Linux only")
def test_freed_megabyte_buffers_are_reused_instead_of_faulted_in_again():
    # In a child process, so that the test run keeps glibc's defaults. A 1 MiB buffer
    # freed and allocated again must not be unmapped and faulted in page by page.
    script = """
import resource, sys
from tap_activities.heap import keep_freed_buffers
assert keep_freed_buffers()
blob = bytes(1 << 20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    piece = bytes(1 << 20) + blob[:1]
    del piece
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""
    faults = int(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    assert faults < 2000, f"{faults} page faults for 200 reused buffers"
