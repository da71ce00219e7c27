"""Worker processes: the same output as the download threads, and none left behind.

The tap forks its fragment workers when a sync starts (on Linux, with more than one
core, unless ``worker_processes`` is 0). Every other process-level test runs with them
on a multi-core machine; these tests pin down what is particular to them.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tap_activities.settings import default_worker_processes, parse_settings
from tap_activities.sources.registry import SOURCES
from tap_activities.transfer.workers import WorkerPool
from tests.kit.faultkit import peopleai_ids
from tests.kit.tap_process import (
    TapRun,
    batch_config,
    batch_records,
    catalog_of,
    killed_at_hold,
    run_tap,
    start_tap,
)
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers: Linux")


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in listing.read_text().split())
        except OSError:
            continue  # a thread that just ended
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


@linux_only
@pytest.mark.parametrize("batch", [False, True], ids=["record", "batch"])
def test_worker_processes_emit_what_the_download_threads_emit(upstream, tmp_path, batch):
    runs = {}
    for processes in (2, 0):
        extra = {}
        if batch:  # a folder and a prefix per run: each run's files are its own
            (tmp_path / f"batches{processes}").mkdir()
            extra["batch_config"] = batch_config(
                tmp_path / f"batches{processes}", size=50, prefix=f"p{processes}-"
            )
        config = peopleai_config(upstream, worker_processes=processes, **extra)
        run = run_tap(config, tmp_path / f"p{processes}", args=("--log-level", "debug"))
        assert run.returncode == 0, run.stderr[-3000:]
        runs[processes] = run
    assert "2 worker process(es) started" in runs[2].stderr
    assert "part 1 downloaded (0.1 MB)" in runs[2].stderr  # the size, not what is left of it
    assert "worker process(es) started" not in runs[0].stderr
    if batch:
        assert runs[2].batch_streams == runs[0].batch_streams
        assert not runs[2].records
    emitted = {n: batch_records(run) if batch else run.records for n, run in runs.items()}
    for stream, ids in peopleai_ids(upstream).items():
        records = emitted[2][stream]
        assert [r["uid"] for r in records] == [r["uid"] for r in emitted[0][stream]]
        assert {r["uid"] for r in records} == ids
        assert records == emitted[0][stream]  # the same records, field for field
    assert runs[2].state == runs[0].state


@linux_only
def test_workers_inherit_the_fragment_pass_instead_of_importing_it(upstream, tmp_path):
    """The pass's modules are imported before the fork: with ``-X importtime`` every
    process lists what it imports itself, so a module a worker imported again shows twice."""
    config = peopleai_config(upstream, worker_processes=2)
    run = run_tap(
        config, tmp_path, args=("--log-level", "debug"), env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 worker process(es) started" in run.stderr
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert imported.count("tap_activities.sources.peopleai.fragments") == 1
    assert imported.count("tap_activities.transfer.download") == 1
    if "People.ai fragment pass: native" in run.stderr:
        assert imported.count("tap_activities.sources.peopleai.lines._lines") == 1


@linux_only
def test_workers_exit_when_the_tap_is_killed(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        hold = up.faults.hold("peopleai.data", skip=2)
        config = peopleai_config(up, worker_processes=2)
        process = start_tap(
            config,
            tmp_path,
            env={"TMPDIR": str(tmp_path)},  # what a killed tap leaves behind
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with killed_at_hold(process, hold):
            workers = children_of(process.pid)
            assert len(workers) == 2, workers
        deadline = time.monotonic() + 60  # generous: they exit when they see the tap gone
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "worker processes outlived the tap"


def test_no_worker_processes_while_other_threads_run(upstream):
    # pytest runs the local upstream in threads here: forking now would not be safe.
    workers = WorkerPool.start(2)
    try:
        assert not workers.uses_processes
        assert workers.run(os.getpid) == os.getpid()
    finally:
        workers.close()


@linux_only
def test_a_dead_worker_means_going_on_in_threads():
    script = textwrap.dedent(
        """
        import os, signal, time
        from tap_activities.transfer.workers import WorkerPool
        workers = WorkerPool.start(2)
        assert workers.uses_processes
        assert workers.run(os.getpid) != os.getpid()
        for pid in list(workers._pool._processes):
            os.kill(pid, signal.SIGKILL)
        # No wait for the pool to notice: a call submitted before it does fails with the
        # pool all the same, and must then run here.
        print(workers.run(os.getpid) == os.getpid(), workers.uses_processes)
        workers.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]
    assert "a worker process died; going on in threads" in done.stderr


@linux_only
def test_a_slow_upstream_still_serves_download_workers_fragments_at_once(tmp_path):
    """Each fragment answered 0.3 s late: the downloads wait on the network, so the tap
    must keep ``download_workers`` (4) of them going with only 2 worker processes,
    fetching to files, instead of one fragment per worker."""
    config_up = fast_upstream_config(peopleai_per_day=240, fragment_records=20)
    with LocalUpstream(config_up) as up:
        up.faults.slow("peopleai.data", 0.3, times=1000)
        day = config_up.start.isoformat()
        config = peopleai_config(
            up, start_date=day, end_date=day, download_workers=4, worker_processes=2
        )
        run = run_tap(
            config,
            tmp_path,
            catalog=catalog_of(config, "peopleai_email"),
            args=("--log-level", "debug"),
        )
        assert run.returncode == 0, run.stderr[-3000:]
        want = {r["uid"] for r in up.peopleai.records("email", config_up.start, config_up.start)}
        uids = [r["uid"] for r in run.records["peopleai_email"]]
        assert sorted(uids) == sorted(want)
        assert up.peopleai.peak_data_requests == 4
        assert not up.faults.unfired()
        assert "to a file, as fragments wait on the network" in run.stderr


@linux_only
def test_a_caller_that_will_not_wait_is_told_when_every_worker_is_taken():
    script = textwrap.dedent(
        """
        import os, threading
        from tap_activities.transfer.workers import WorkerPool, WorkersBusyError

        def hold_in_worker(started, release):
            os.write(started, b"s")
            return os.read(release, 1)

        # The worker (forked with these pipes) says when it has the call, and holds it
        # until this process writes: the only worker is known to be taken, no sleep.
        started_r, started_w = os.pipe()
        release_r, release_w = os.pipe()
        workers = WorkerPool.start(1)

        def hold():
            workers.run(hold_in_worker, started_w, release_r)
        taken = threading.Thread(target=hold)
        taken.start()
        os.read(started_r, 1)
        try:
            workers.run(os.getpid, wait=False)
            print("ran")
        except WorkersBusyError:
            print("busy")
        os.write(release_w, b"x")
        taken.join()
        print(workers.run(os.getpid, wait=False) != os.getpid())
        workers.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["busy", "True"]


def test_worker_processes_default_to_one_per_core_up_to_download_workers(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert default_worker_processes(4) == 2
    assert default_worker_processes(1) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert default_worker_processes(4) == 0
    config = {"start_date": "2024-01-01", "chartmogul_api_key": "k"}
    assert parse_settings({**config, "worker_processes": "3"}, SOURCES).worker_processes == 3
    assert parse_settings(config, SOURCES).worker_processes == 0


@linux_only
def test_chartmogul_rows_typed_in_ranges_by_workers_match_one_pass(tmp_path):
    # 20,000 rows of ~245 bytes: a few ranges of RANGE_BYTES (2 MiB) for the workers.
    day = dt.date(2024, 1, 1).isoformat()
    config_upstream = fast_upstream_config(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 1))
    with LocalUpstream(replace(config_upstream, chartmogul_per_day=20_000)) as up:

        def both(name: str) -> dict[int, TapRun]:
            runs = {}
            for processes in (2, 0):
                config = chartmogul_config(
                    up, start_date=day, end_date=day, worker_processes=processes
                )
                catalog = catalog_of(config, "chartmogul_new_biz")
                runs[processes] = run_tap(config, tmp_path / f"{name}{processes}", catalog=catalog)
            return runs

        good = both("good")
        assert good[0].returncode == good[2].returncode == 0, good[2].stderr[-3000:]
        assert len(good[2].records["chartmogul_new_biz"]) == 20_000
        assert good[2].records == good[0].records

        up.faults.bad_csv_row(times=2)  # the middle row of the next two files
        bad = both("bad")
        assert up.faults.fired["bad_csv_row"] == 2
        errors = {n: [e.split(" export ")[0] for e in run.cli_errors] for n, run in bad.items()}
        assert errors[2] == errors[0]
        assert "row 10001 (line " in bad[2].cli_errors[0]  # the middle row, by its number


@linux_only
def test_ordered_results_come_in_order_and_unused_ones_are_discarded(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from tap_activities.transfer.workers import WorkerPool

        def slow_square(n):
            time.sleep(0.3 if n == 0 else 0.05 * (n % 3))  # finish out of order
            return n * n, os.getpid()

        discarded = []
        workers = WorkerPool.start(2)
        results = list(workers.ordered(slow_square, [(n,) for n in range(9)]))
        assert [r for r, _pid in results] == [n * n for n in range(9)]
        assert len({{pid for _r, pid in results}} - {{os.getpid()}}) == 2
        early = workers.ordered(slow_square, [(n,) for n in range(9)], discarded.append)
        assert next(early)[0] == 0
        early.close()  # the caller stops: what was computed ahead is discarded
        assert sorted(r for r, _pid in discarded) == [1, 4], discarded  # running: not cancelled
        workers.close()
        Path({str(tmp_path / "ok")!r}).touch()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ok").exists()
