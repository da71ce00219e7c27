"""A temporary folder of the sync's own, and what killed syncs left in the temporary directory.

Every temporary file of a sync (People.ai parts and spools, ChartMogul's zip, CSV and
spools; they can be gigabytes) goes in a folder of the run's own in the temporary
directory (``TMPDIR``), made the process's default (``tempfile.tempdir``) before the
worker processes are forked, so theirs too; the folder goes when the sync ends. A run
that is killed (SIGKILL, the OOM killer, a lost container) cannot remove it; the next
sync in the same temporary directory does, as soon as no process of that run is alive:

- A run holds an exclusive ``flock`` on a file in its folder from the moment it makes
  it, and its forked workers inherit the lock. The kernel releases it when the last of
  them ends, however it ends. A folder whose lock another run can take belongs to no live
  process: it is removed. Concurrent runs of the tap on the same machine each hold their
  own lock, and a lock never passes to another run, where a PID is reused by the kernel
  and an age is outlived by a long sync (a BATCH run of a large tenant, a loader that
  makes the tap wait on its output).
- A folder made less than :data:`GRACE_SECONDS` ago is left alone: its run may be
  between making it and locking it.
- Loose files in the temporary directory itself (``tap-activities-XXXXXXXX.part``,
  ``.spool``, ``.csv``: the tap's versions before run folders) carry no lock. They are
  removed once untouched for :data:`LOOSE_SECONDS` (two days): a run of such a version
  writes each file once and reads it within the same export, so one untouched that long
  belongs to a run that has been stuck or dead for days, and a nightly run that long
  would have blocked the next night's (meltano refuses a second run of the same job).

Only folders and files of the current user, never through a symbolic link.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from tap_activities.errors import ConfigError

RUN_PREFIX = "tap-activities-run-"
LOCK_NAME = ".lock"
GRACE_SECONDS = 60.0
LOOSE_SECONDS = 2 * 86400.0
LOOSE = re.compile(r"tap-activities-[a-z0-9_]{8}\.(?:part|spool|csv)")
"""The names ``tempfile.mkstemp`` gave the tap's loose files (8 characters of its alphabet)."""


class RunFolder:
    """This run's folder in the temporary directory, locked while any of its processes live.

    Runs of the tap in one process (tests run several through the SDK) share one folder,
    removed when the last of them releases it.
    """

    _guard = threading.Lock()
    _current: RunFolder | None = None

    def __init__(self, path: Path, lock: int, previous: str | None, swept: list[str]) -> None:
        """Use :meth:`claim`."""
        self.path = path
        self.swept = swept
        """What :func:`sweep` removed when this folder was made, for the log."""
        self._lock = lock
        self._previous = previous
        self._users = 1

    @classmethod
    def claim(cls, parent: str | Path | None = None) -> RunFolder:
        """This run's folder, made (after :func:`sweep`) or shared; the default from now on."""
        with cls._guard:
            if cls._current is not None:
                cls._current._users += 1
                return cls._current
            where = Path(parent or tempfile.gettempdir())
            swept = sweep(where)
            try:
                path = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=where))
                lock = os.open(path / LOCK_NAME, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
            except OSError as exc:
                msg = (
                    f"the temporary directory {where} cannot be written ({exc.strerror}); "
                    "set TMPDIR to a folder the tap may write, with room for an export"
                )
                raise ConfigError(msg) from None
            fcntl.flock(lock, fcntl.LOCK_EX)  # a new file: nobody else holds it
            folder = cls(path, lock, tempfile.tempdir, swept)
            tempfile.tempdir = str(path)
            cls._current = folder
            return folder

    def release(self) -> None:
        """The run is over: its folder goes, and the default temporary directory is back."""
        with self._guard:
            self._users -= 1
            if self._users > 0:
                return
            type(self)._current = None
            tempfile.tempdir = self._previous
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._lock)


def sweep(parent: Path, now: float | None = None) -> list[str]:
    """Remove the run folders of dead runs and old loose files in ``parent``; their names."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        try:
            if _stale(entry, now):
                removed.append(entry.name)
        except OSError:
            continue  # gone meanwhile, or not ours to touch
    return removed


def _stale(entry: os.DirEntry[str], now: float) -> bool:
    """Remove ``entry`` if it is a dead run's folder or an old loose file; whether it did."""
    status = entry.stat(follow_symlinks=False)
    if status.st_uid != os.getuid():
        return False
    if entry.name.startswith(RUN_PREFIX) and entry.is_dir(follow_symlinks=False):
        return _remove_if_dead(Path(entry.path), now)
    old = now - status.st_mtime > LOOSE_SECONDS
    if old and LOOSE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
        os.unlink(entry.path)
        return True
    return False


def _remove_if_dead(folder: Path, now: float) -> bool:
    """Remove ``folder`` if no live process holds its lock; whether it did."""
    try:
        lock = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:  # made but never locked (killed at once), or half removed
        if now - folder.stat().st_mtime <= GRACE_SECONDS:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    try:
        if now - os.fstat(lock).st_mtime <= GRACE_SECONDS:
            return False  # its run may not have locked it yet
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live run holds it
        shutil.rmtree(folder, ignore_errors=True)  # holding the lock: no one can claim it
        return True
    finally:
        with contextlib.suppress(OSError):
            os.close(lock)
