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


def run_script(script: str, *args: str) -> list[str]:
    """The lines a child process printed: the test run's own heap is never frozen."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_settling_for_exit_collects_the_garbage_and_freezes_what_lives():
    script = """
import gc
from tap_activities.heap import settle_for_exit
class Cycle:
    def __del__(self):
        print("finalized")
garbage = Cycle()
garbage.me = garbage  # only the cyclic collector frees it
del garbage
alive = [[]]
settle_for_exit()
print("frozen", gc.get_freeze_count() > 0, any(o is alive for o in gc.get_objects()))
"""
    assert run_script(script) == ["finalized", "frozen True False"]


def test_the_cli_settles_the_heap_however_it_ends():
    script = """
import gc, sys
from tap_activities.tap import cli
sys.argv = ["tap-activities", *sys.argv[1:]]
try:
    cli()
except SystemExit as end:
    print("exit", end.code, gc.get_freeze_count() > 0)
"""
    for args, code in (("--about", 0), ("--config=/no/such/file.json", 1)):
        assert run_script(script, args)[-1] == f"exit {code} True"
