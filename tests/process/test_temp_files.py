"""Temporary files: each run's in a folder of its own, and what killed runs left is removed.

A sync's parts, spools and CSVs can be gigabytes; a run killed mid-export used to leave
them in the temporary directory for good. Each run now works in a locked folder
(``tap_activities/transfer/run_folder.py``): the next run removes a killed run's folder
once no process of it is alive, and never the folder of a run still going, however old.
Here with real taps (killed, held mid-download, run to the end) sharing one ``TMPDIR``,
and the rules one by one on folders and files made by hand.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tap_activities.transfer import run_folder
from tap_activities.transfer.run_folder import LOCK_NAME, RUN_PREFIX, RunFolder, sweep
from tests.kit.tap_process import killed_at_hold, run_tap, start_tap
from tests.kit.upstream import fast_upstream_config, peopleai_config

DAY = 86400


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def aged_file(path: Path, seconds: float) -> Path:
    path.write_bytes(b"x")
    return age(path, seconds)


def run_folders(parent: Path) -> list[Path]:
    return sorted(parent.glob(f"{RUN_PREFIX}*"))


def lock_is_free(folder: Path) -> bool:
    fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_killed_runs_folders_go_live_runs_stay(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {"TMPDIR": str(temporary)}
    # What versions before run folders left: loose files, old and recent; and others' files.
    loose_old = aged_file(temporary / "tap-activities-k3j_x9q2.part", 3 * DAY)
    loose_recent = aged_file(temporary / "tap-activities-a1b2c3d4.spool", 0)
    others = [
        aged_file(temporary / name, 3 * DAY)
        for name in ("tap-activities-report.csv", "unrelated.part")
    ]

    with LocalUpstream(fast_upstream_config(fragment_records=5)) as up:
        config = peopleai_config(up, worker_processes=2)
        # A: killed mid-download, its worker processes with it.
        hold = up.faults.hold("peopleai.data", skip=1)
        killed = start_tap(config, tmp_path / "a", env=env)
        with killed_at_hold(killed, hold):
            assert not loose_old.exists()
            (folder_a,) = run_folders(temporary)
            assert list(folder_a.glob("tap-activities-*.part")), "the held part is not there"
        wait_until(lambda: lock_is_free(folder_a))  # its workers saw it die, and ended
        age(folder_a / LOCK_NAME, 120)

        # B: held mid-download, alive; its folder made to look old, so only its lock speaks.
        hold = up.faults.hold("peopleai.data", skip=1)
        log = tmp_path / "b.log"
        with log.open("w") as stderr:
            held = start_tap(
                config, tmp_path / "b", env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            try:
                assert hold.reached.wait(120), "B never reached its held download"
                assert not folder_a.exists(), "B did not remove the killed run's folder"
                (folder_b,) = run_folders(temporary)
                age(folder_b / LOCK_NAME, 3 * DAY)

                # C: runs to the end beside B; B's folder stays, C's own goes.
                finished = run_tap(config, tmp_path / "c", env=env)
                assert finished.returncode == 0, finished.stderr[-3000:]
                assert run_folders(temporary) == [folder_b]
            finally:
                hold.release.set()
                held.wait(timeout=120)
        err = log.read_text()
        assert held.returncode == 0, err[-3000:]
    assert f"Removed what runs that ended without cleaning up left in {temporary}" in err
    assert folder_a.name in err  # the loose old file went at A's start already
    assert sorted(temporary.iterdir()) == sorted([loose_recent, *others])


def held_lock_child(folder: Path) -> subprocess.Popen:
    """A process holding ``folder``'s lock (a live run), until it is killed."""
    script = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        fd = os.open({str(folder / LOCK_NAME)!r}, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def run_folder_by_hand(parent: Path, name: str, *, lock_age: float | None) -> Path:
    folder = parent / f"{RUN_PREFIX}{name}"
    folder.mkdir()
    (folder / "tap-activities-abcdefgh.part").write_bytes(b"x" * 100)
    if lock_age is not None:
        aged_file(folder / LOCK_NAME, lock_age)
    return folder


def test_sweep_decides_by_lock_then_grace_then_age(tmp_path):
    dead = run_folder_by_hand(tmp_path, "dead", lock_age=120)
    young = run_folder_by_hand(tmp_path, "young", lock_age=5)  # may be locking right now
    live = run_folder_by_hand(tmp_path, "live", lock_age=30 * DAY)
    unlocked_old = run_folder_by_hand(tmp_path, "nolock-old", lock_age=None)
    age(unlocked_old, 120)
    unlocked_young = run_folder_by_hand(tmp_path, "nolock-young", lock_age=None)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"x")
    link = tmp_path / f"{RUN_PREFIX}link"
    link.symlink_to(outside)
    holder = held_lock_child(live)
    try:
        removed = sweep(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert sorted(removed) == sorted([dead.name, unlocked_old.name])
    assert not dead.exists()
    assert not unlocked_old.exists()
    assert young.exists()
    assert live.exists()
    assert unlocked_young.exists()
    assert (outside / "keep").exists()
    assert link.is_symlink()
    # The live run has ended since: its folder goes at the next sweep.
    assert sweep(tmp_path) == [live.name]


def test_loose_files_go_after_two_days_and_only_the_taps(tmp_path):
    two_days = run_folder.LOOSE_SECONDS
    old = [
        aged_file(tmp_path / f"tap-activities-{name}", two_days + 60)
        for name in ("abc_e1gh.part", "zzzzzzzz.csv")
    ]
    kept = [
        aged_file(tmp_path / "tap-activities-abcdefgh.spool", two_days - 3600),  # recent
        aged_file(tmp_path / "tap-activities-notes.csv", 30 * DAY),  # not a name the tap gives
        aged_file(tmp_path / "tap-activities-ABCDEFGH.part", 30 * DAY),  # not mkstemp's letters
        aged_file(tmp_path / "x-tap-activities-abcdefgh.part", 30 * DAY),
    ]
    target = tmp_path / "precious"
    target.write_bytes(b"x")
    link = tmp_path / "tap-activities-linklink.part"
    link.symlink_to(target)
    age(link, 30 * DAY)
    assert sorted(sweep(tmp_path)) == sorted(p.name for p in old)
    assert sorted(tmp_path.iterdir()) == sorted([*kept, target, link])


def test_a_run_folder_is_the_default_while_claimed_and_gone_after(tmp_path):
    before = tempfile.tempdir
    folder = RunFolder.claim(tmp_path)
    try:
        assert tempfile.tempdir == str(folder.path)
        assert folder.path.parent == tmp_path
        assert not lock_is_free(folder.path)
        handle, name = tempfile.mkstemp(suffix=".part")
        os.close(handle)
        assert Path(name).parent == folder.path
        again = RunFolder.claim(tmp_path)  # another run in this process shares it
        assert again is folder
        again.release()
        assert folder.path.exists()
    finally:
        folder.release()
    assert tempfile.tempdir == before
    assert not folder.path.exists()


def test_an_unwritable_temporary_directory_is_one_worded_error(tmp_path):
    if os.getuid() == 0:
        target = tmp_path / "not-a-folder"
        target.write_bytes(b"")  # root writes anywhere; a file is no folder for anyone
    else:
        target = tmp_path / "read-only"
        target.mkdir(mode=0o500)
    from tap_activities.errors import ConfigError

    with pytest.raises(ConfigError, match=f"the temporary directory {target} cannot be written"):
        RunFolder.claim(target)
