"""Benchmark: tap-activities end to end against the local upstream, next to a stock SDK tap.

For each case the program under test runs as its own process with stdout read by a
counting sink; wall time runs from process start to exit. Memory is measured in one more
run of each case, not in the timed ones (sampling costs the run under test time): peak
RSS is the child's VmHWM, sampled while it runs (and, with worker processes, the peak of
the summed PSS of the tap and its workers). The local upstream runs in a process of its
own (``upstream_process.py``). In the same run:

- ``tap-activities`` RECORD output, People.ai (one window of N records) and ChartMogul;
- ``tap-activities`` BATCH output (jsonl.gz files), People.ai;
- a stock singer-sdk tap reading the same People.ai records from a local JSONL file;
- the raw floor: orjson parse + write RECORD lines from that file.

    python bench/run_bench.py --records 200000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import gzip
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

# The local upstream lives beside the tap in this repository, not in its wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from upstream_process import UpstreamProcess

from activities_upstream import UpstreamConfig
from tap_activities.sources.peopleai.lines.native_status import described

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAY = dt.date(2024, 1, 1)


def run_counted(command: list[str], env: dict | None = None, *, sample: bool = False) -> dict:
    """Run a command, count its stdout lines by message type, measure its time.

    With ``sample``, also its peak RSS and PSS, polled while it runs (which slows it: the
    PSS of the tap and of each worker is a walk of its page tables).
    """
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        assert proc.stdout is not None
        with contextlib.suppress(OSError):  # a larger pipe: fewer wake-ups on both ends
            fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, 1 << 20)
        sampler = PeakSampler(proc.pid) if sample else None
        if sampler is not None:
            sampler.start()
        records, manifests = count_messages(proc.stdout.fileno())
        if sampler is not None:
            sampler.sample()
            sampler.stop()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.stdout.close()
        if status != 0:
            raise SystemExit(f"{command[0]} exited with status {status}")
        log.seek(0)
        sync = sum(float(m) for m in SYNC_DURATION.findall(log.read()))
    if manifests:
        records = sum(count_lines(m) for m in manifests)
    measured = {
        "records": records,
        "seconds": elapsed,
        # The tap's and its reaped workers' CPU time: against the wall time, how many
        # cores the run kept busy.
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "sync_seconds": sync,
        "batches": len(manifests),
    }
    if sampler is not None:
        measured.update(sampler.memory())
    return measured


F_SETPIPE_SZ = 1031
SYNC_DURATION = re.compile(rb'"metric":\s*"sync_duration",\s*"value":\s*([0-9.]+)')
RECORD_MARKS = (b'\n{"type":"RECORD"', b'\n{"type": "RECORD"')


def count_messages(fd: int) -> tuple[int, list[str]]:
    """RECORD lines and BATCH manifests on a pipe, with no per-line Python work.

    The sink must not be what the benchmark measures: RECORD lines are counted with
    ``bytes.count`` over whole reads (a mark split across two reads is counted at the
    seam); only lines holding a BATCH message are split out and parsed.
    """
    records = 0
    manifests: list[str] = []
    tail = b"\n"  # the output starts at a line start
    partial = b""  # a BATCH line not yet complete
    seam = max(len(m) for m in RECORD_MARKS) - 1
    while chunk := os.read(fd, 1 << 20):
        for mark in RECORD_MARKS:
            # Marks across the seam: the last len-1 bytes before it and the first len-1
            # after it (longer, and a mark already counted could be counted again).
            edge = len(mark) - 1
            records += chunk.count(mark) + (tail[-edge:] + chunk[:edge]).count(mark)
        if partial or b'"BATCH"' in chunk:
            partial += chunk
            *lines, partial = partial.split(b"\n")
            for line in lines:
                if line.startswith(b'{"type":"BATCH"') or line.startswith(b'{"type": "BATCH"'):
                    manifests.extend(orjson.loads(line)["manifest"])
            if len(partial) > 20 and b'"BATCH"' not in partial:
                partial = b""  # not a BATCH line (its type comes first): drop it
        # Only the last bytes matter: no copy of the whole chunk (~1 MiB) per read.
        tail = chunk[-seam:] if len(chunk) >= seam else (tail + chunk)[-seam:]
    return records, manifests


class PeakSampler(threading.Thread):
    """Polls the child's VmHWM every 20 ms: a BATCH run writes nothing to stdout until late.

    With worker processes, RSS overstates: a forked worker shares most of its pages with
    the tap, and RSS counts them in both. So the tap and its workers are also measured
    together as the sum of their PSS (shared pages divided among the processes sharing
    them), sampled at the same times: ``tree_pss_kb`` is the highest such sum seen.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.tree_pss_kb = 0
        self.workers: set[int] = set()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.02):
            self.sample()

    def sample(self) -> None:
        self.peak_kb = max(self.peak_kb, high_water_kb(self.pid))
        workers = children(self.pid)
        self.workers.update(workers)
        total = sum(pss_kb(pid) for pid in (self.pid, *workers))
        self.tree_pss_kb = max(self.tree_pss_kb, total)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def memory(self) -> dict[str, float | int]:
        """What the samples found, under :data:`MEMORY_KEYS`."""
        return {
            "peak_rss_mb": self.peak_kb / 1024,
            "tree_pss_mb": self.tree_pss_kb / 1024,
            "worker_processes": len(self.workers),
        }


MEMORY_KEYS = ("peak_rss_mb", "tree_pss_mb", "worker_processes")
"""What a run measures only when its memory is sampled."""


def pss_kb(pid: int) -> int:
    """A process's proportional set size now (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """A process's child processes (those of any of its threads)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(child) for child in listing.read_text().split())
    return found


def high_water_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM; unlike ru_maxrss it restarts at exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_lines(url: str) -> int:
    path = url.removeprefix("file://")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as lines:
        return sum(1 for _ in lines)


def catalog_for(config: dict, stream: str) -> dict:
    from tap_activities.tap import TapActivities

    catalog = TapActivities(config=config).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return catalog


PURE_PYTHON = {**os.environ, "TAP_ACTIVITIES_NATIVE": "0"}
"""The environment of the ``-pure`` cases: the tap's Python fragment pass, native built or not."""


def bundled_simdjson(work: Path) -> dict:
    """The environment of the ``-bundled`` case: the native pass on pysimdjson's simdjson.

    However the installed pass was built (the system's simdjson, where pkg-config knows
    it), this case's is built as on a machine without it, into a copy of the package that
    ``PYTHONPATH`` puts before the installed one.
    """
    from tap_activities.sources.peopleai.lines.native_build import compile_extension

    overlay = work / "overlay"
    package = overlay / "tap_activities"
    skip = shutil.ignore_patterns("_lines*", "__pycache__", "*.cpp")
    shutil.copytree(ROOT / "tap_activities", package, ignore=skip)
    shutil.copytree(ROOT / "schemas", overlay / "schemas")
    lines = Path("tap_activities", "sources", "peopleai", "lines")
    source = ROOT / lines / "lines.cpp"
    hidden = {"PKG_CONFIG_LIBDIR": str(work), "PKG_CONFIG_PATH": ""}
    saved = {name: os.environ.get(name) for name in hidden}
    os.environ.update(hidden)
    try:
        target = overlay / lines / f"_lines{sysconfig.get_config_var('EXT_SUFFIX')}"
        used = compile_extension(source, target)
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    print(f"  the -bundled case's native pass: simdjson from {used.origin}", file=sys.stderr)
    return {**os.environ, "PYTHONPATH": str(overlay), "TAP_ACTIVITIES_NATIVE": "1"}


def tap_case(
    workdir: Path,
    config: dict,
    stream: str,
    name: str,
    env: dict | None = None,
    sample: bool = False,
) -> dict:
    (workdir / f"{name}.json").write_text(json.dumps(config))
    (workdir / f"{name}-catalog.json").write_text(json.dumps(catalog_for(config, stream)))
    command = [
        str(BIN / "tap-activities"),
        "--config", str(workdir / f"{name}.json"),
        "--catalog", str(workdir / f"{name}-catalog.json"),
    ]  # fmt: skip
    return run_counted(command, env, sample=sample)


CASES = (
    "upstream",
    "raw",
    "peopleai-record",
    "peopleai-batch",
    "peopleai-record-pure",
    "peopleai-batch-pure",
    "peopleai-record-bundled",
    "peopleai-record-threads",
    "peopleai-batch-threads",
    "peopleai-record-latency",
    "chartmogul-record",
    "chartmogul-batch",
    "stock",
    "stock-msgspec",
    "small-raw",
    "small-peopleai-record",
    "small-peopleai-record-pure",
    "small-stock-msgspec",
)
"""The ``small-`` cases run on records of about 550 bytes, every date-time without an
offset (``UpstreamConfig.peopleai_compact``), from an upstream of their own: there the
cost per record shows, which the other cases' 1.5 KB records hide. They run on
``--small-records`` (1,000,000): on 200,000 small records the tap's fixed cost per run
(start-up 0.33 s, the export job 0.2 s, which the raw loop and the stock tap do not pay)
was 40 % of the Python pass's run and most of its distance from the raw loop."""
STOCK_NAMES = ("stock singer-sdk tap (file)", "stock singer-sdk tap, msgspec writer (file)")
SMALL = "small records: "
"""What the names of the ``small-`` cases start with in the report."""


def late_answers(up: UpstreamProcess, seconds: float, run: Any) -> dict:
    """Run a case with every People.ai data request answered ``seconds`` late.

    An upstream far away, or one that is slow to start serving a fragment: downloads
    then wait on the network, and what counts is how many fragments transfer at once.
    """
    up.slow("peopleai.data", seconds, times=1_000_000)
    try:
        return run()
    finally:
        up.slow("peopleai.data", 0.0, times=0)


def median_run(repeat: int, run: Any) -> dict:
    """Time a case ``repeat`` times and keep the run of median wall time; then run it
    once more with memory sampled, for its peak RSS and PSS (and its time, not counted).

    ``run(sample)`` runs the case once.
    """
    runs = sorted((run(False) for _ in range(repeat)), key=lambda r: r["seconds"])
    chosen = dict(runs[len(runs) // 2])
    sampled = run(True)
    chosen.update({key: sampled[key] for key in MEMORY_KEYS})
    chosen["sampled_seconds"] = round(sampled["seconds"], 2)
    chosen["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    return chosen


def upstream_case(work: Path, config: dict, source: str, kind: str) -> dict:
    """Export and download one window with no parsing: the upstream's own speed."""
    path = work / f"upstream-{source}.json"
    path.write_text(json.dumps(config))
    command = [
        sys.executable, str(ROOT / "bench/upstream_download.py"), str(path), source, kind,
        DAY.isoformat(), DAY.isoformat(),
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--chartmogul-records", type=int, default=None)
    parser.add_argument(
        "--small-records",
        type=int,
        default=1_000_000,
        help="records of the small- cases: enough that the cost per record outweighs the "
        "run's fixed cost (start-up and the export job, ~0.5 s)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; medians shown")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated subset of: {', '.join(CASES)}",
    )
    parser.add_argument(
        "--skip-stock", action="store_true", help="skip the slow stock SDK baselines"
    )
    parser.add_argument(
        "--windows",
        action="store_true",
        help="only the full-sync case: 3 People.ai streams x 8 yearly windows, wall time "
        "against the upstream's own export time",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.25,
        help="peopleai-record-latency: seconds each fragment's answer is late",
    )
    parser.add_argument("--run-seconds", type=float, default=0.5, help="--windows: job run time")
    parser.add_argument("--per-day", type=int, default=20, help="--windows: records/type/day")
    args = parser.parse_args()
    if args.windows:
        windows_case(args.run_seconds, args.per_day, max(1, args.repeat))
        return
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    if args.skip_stock:
        cases = [c for c in cases if "stock" not in c]
    n = args.records
    n_cm = args.chartmogul_records or n
    want_peopleai = any(c.startswith("peopleai") for c in cases) or bool(
        {"raw", "stock", "stock-msgspec"} & set(cases)
    )
    want_chartmogul = any(c.startswith("chartmogul") for c in cases)
    upstream_config = UpstreamConfig(
        seed=1, start=DAY, end=DAY,
        peopleai_per_day=n if want_peopleai else 0,
        chartmogul_per_day=n_cm if want_chartmogul else 0,
        queue_seconds=0.05, run_seconds=0.1, fragment_records=20_000,
        unknown_fields=False, chartmogul_extra_column=None,
    )  # fmt: skip
    results: dict[str, dict] = {}
    upstream: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tap-activities-bench-") as tmp,
        UpstreamProcess(upstream_config) as up,
    ):
        work = Path(tmp)
        print(f"generating {n} People.ai and {n_cm} ChartMogul records ...", file=sys.stderr)
        source = work / "records.jsonl"
        if want_peopleai:
            if {"raw", "stock", "stock-msgspec"} & set(cases):
                up.write_peopleai_records("email", DAY, source)
            else:
                up.generate("peopleai", "email", DAY, DAY)
        if want_chartmogul:
            up.generate("chartmogul", "new_biz", DAY, DAY)
        base = {
            "start_date": DAY.isoformat(),
            "end_date": DAY.isoformat(),
            "poll_interval_seconds": 0.05,
        }
        peopleai = {
            **base,
            "peopleai_api_url": up.peopleai_url,
            "peopleai_client_id": up.peopleai_client_id,
            "peopleai_client_secret": up.peopleai_client_secret,
        }
        chartmogul = {
            **base,
            "chartmogul_api_url": up.chartmogul_url,
            "chartmogul_api_key": up.chartmogul_api_key,
        }
        threads = {"worker_processes": 0}  # the fragment pass in the download threads
        batch_root = work / "batches"
        batch_root.mkdir()
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{batch_root}", "prefix": "b-"},
            "batch_size": 100_000,
        }
        peopleai_batch = {**peopleai, "batch_config": batch_config}
        # The upstream alone first: it also renders both exports, once, so that no tap run
        # below is charged for the upstream serialising its data.
        print("upstream-only downloads ...", file=sys.stderr)
        if want_peopleai:
            upstream["People.ai"] = upstream_case(work, peopleai, "peopleai", "email")
        if want_chartmogul:
            upstream["ChartMogul"] = upstream_case(work, chartmogul, "chartmogul", "new_biz")
        print("running cases ...", file=sys.stderr)
        repeat = max(1, args.repeat)
        built: dict[str, dict] = {}

        def bundled_env() -> dict:
            if not built:
                built["env"] = bundled_simdjson(work)
            return built["env"]

        plan: list[tuple[str, str, Any]] = [
            (
                "raw",
                "raw orjson loop (file)",
                lambda sample: run_counted(
                    [sys.executable, str(ROOT / "bench/raw_loop.py"), str(source)], sample=sample
                ),
            ),
            (
                "peopleai-record",
                "tap-activities RECORD, People.ai",
                lambda sample: tap_case(work, peopleai, "peopleai_email", "p", sample=sample),
            ),
            (
                "peopleai-batch",
                "tap-activities BATCH, People.ai",
                lambda sample: tap_case(
                    work, peopleai_batch, "peopleai_email", "pb", sample=sample
                ),
            ),
            (
                "peopleai-record-pure",
                "tap-activities RECORD, People.ai, Python pass",
                lambda sample: tap_case(
                    work, peopleai, "peopleai_email", "pp", PURE_PYTHON, sample=sample
                ),
            ),
            (
                "peopleai-batch-pure",
                "tap-activities BATCH, People.ai, Python pass",
                lambda sample: tap_case(
                    work, peopleai_batch, "peopleai_email", "pbp", PURE_PYTHON, sample=sample
                ),
            ),
            (
                "peopleai-record-bundled",
                "tap-activities RECORD, People.ai, pysimdjson's simdjson",
                lambda sample: tap_case(
                    work, peopleai, "peopleai_email", "pbu", bundled_env(), sample=sample
                ),
            ),
            (
                "peopleai-record-threads",
                "tap-activities RECORD, People.ai, 0 wp",
                lambda sample: tap_case(
                    work, {**peopleai, **threads}, "peopleai_email", "pt", sample=sample
                ),
            ),
            (
                "peopleai-batch-threads",
                "tap-activities BATCH, People.ai, 0 wp",
                lambda sample: tap_case(
                    work, {**peopleai_batch, **threads}, "peopleai_email", "pbt", sample=sample
                ),
            ),
            (
                "peopleai-record-latency",
                f"tap-activities RECORD, People.ai, {args.latency:g} s late",
                lambda sample: late_answers(
                    up,
                    args.latency,
                    lambda: tap_case(work, peopleai, "peopleai_email", "pl", sample=sample),
                ),
            ),
            (
                "chartmogul-record",
                "tap-activities RECORD, ChartMogul",
                lambda sample: tap_case(work, chartmogul, "chartmogul_new_biz", "c", sample=sample),
            ),
            (
                "chartmogul-batch",
                "tap-activities BATCH, ChartMogul",
                lambda sample: tap_case(
                    work,
                    {**chartmogul, "batch_config": batch_config},
                    "chartmogul_new_biz",
                    "cb",
                    sample=sample,
                ),
            ),
            (
                "stock",
                "stock singer-sdk tap (file)",
                lambda sample: stock_case(work, source, sample),
            ),
            (
                "stock-msgspec",
                "stock singer-sdk tap, msgspec writer (file)",
                lambda sample: stock_case(work, source, sample, writer="msgspec"),
            ),
        ]
        run_plan(plan, cases, repeat, results, batch_root)
    if any(c.startswith("small-") for c in cases):
        results.update(small_records(cases, args.small_records, repeat))
    report(results, upstream, n, n_cm)


def run_plan(
    plan: list[tuple[str, str, Any]],
    cases: list[str],
    repeat: int,
    results: dict[str, dict],
    batch_root: Path | None = None,
) -> None:
    """Run the chosen cases of ``plan`` (key, name, run) into ``results``; a stock tap once."""
    for key, name, run in plan:
        if key in cases:
            times = 1 if "stock" in key else repeat
            print(f"  {name} x{times} (+1 for memory)", file=sys.stderr)
            results[name] = median_run(times, run)
            if batch_root is not None:
                clear(batch_root)


def small_records(cases: list[str], n: int, repeat: int) -> dict[str, dict]:
    """The ``small-`` cases, on an upstream of their own that writes compact records."""
    config = UpstreamConfig(
        seed=1, start=DAY, end=DAY, peopleai_per_day=n, chartmogul_per_day=0,
        queue_seconds=0.05, run_seconds=0.1, fragment_records=20_000,
        unknown_fields=False, chartmogul_extra_column=None, peopleai_compact=True,
    )  # fmt: skip
    results: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tap-activities-bench-") as tmp,
        UpstreamProcess(config) as up,
    ):
        work = Path(tmp)
        print(f"small records: generating {n} People.ai records ...", file=sys.stderr)
        source = work / "records.jsonl"
        up.write_peopleai_records("email", DAY, source)
        peopleai = {
            "start_date": DAY.isoformat(),
            "end_date": DAY.isoformat(),
            "poll_interval_seconds": 0.05,
            "peopleai_api_url": up.peopleai_url,
            "peopleai_client_id": up.peopleai_client_id,
            "peopleai_client_secret": up.peopleai_client_secret,
        }
        upstream_case(work, peopleai, "peopleai", "email")  # renders the export, untimed
        raw = [sys.executable, str(ROOT / "bench/raw_loop.py"), str(source)]
        plan: list[tuple[str, str, Any]] = [
            (
                "small-raw",
                SMALL + "raw orjson loop (file)",
                lambda sample: run_counted(raw, sample=sample),
            ),
            (
                "small-peopleai-record",
                SMALL + "tap-activities RECORD, People.ai",
                lambda sample: tap_case(work, peopleai, "peopleai_email", "s", sample=sample),
            ),
            (
                "small-peopleai-record-pure",
                SMALL + "tap-activities RECORD, People.ai, Python pass",
                lambda sample: tap_case(
                    work, peopleai, "peopleai_email", "sp", PURE_PYTHON, sample=sample
                ),
            ),
            (
                "small-stock-msgspec",
                SMALL + "stock singer-sdk tap, msgspec writer (file)",
                lambda sample: stock_case(work, source, sample, writer="msgspec"),
            ),
        ]
        run_plan(plan, cases, repeat, results)
    return results


def windows_case(run_seconds: float, per_day: int, repeat: int) -> None:
    """A full sync of 3 streams x 8 windows against the upstream's own export time.

    The upstream runs at most ``max_running_jobs`` jobs at once, each ``run_seconds``
    after ``queue_seconds`` in the queue, so exporting all 24 windows takes it at least
    ``queue_seconds + ceil(24 / max_running_jobs) * run_seconds``: that is the floor a
    tap can approach only by creating the next jobs while it emits the current ones.
    """
    start, end = dt.date(2017, 1, 1), dt.date(2024, 12, 31)  # 8 yearly snapshot windows
    config = UpstreamConfig(
        seed=3, start=start, end=end, peopleai_per_day=per_day, chartmogul_per_day=0,
        queue_seconds=0.05, run_seconds=run_seconds, fragment_records=20_000,
        unknown_fields=False, chartmogul_extra_column=None,
    )  # fmt: skip
    jobs = 3 * 8
    floor = config.queue_seconds + math.ceil(jobs / config.max_running_jobs) * run_seconds
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="tap-activities-bench-") as tmp,
        UpstreamProcess(config) as up,
    ):
        work = Path(tmp)
        for kind in ("email", "meeting", "call"):
            up.generate("peopleai", kind, start, end)  # generate the data before timing
        tap_config = {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "poll_interval_seconds": 0.05,
            "peopleai_api_url": up.peopleai_url,
            "peopleai_client_id": up.peopleai_client_id,
            "peopleai_client_secret": up.peopleai_client_secret,
        }
        (work / "w.json").write_text(json.dumps(tap_config))
        catalog = catalog_for(tap_config, "peopleai_email")
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if not meta["breadcrumb"]:
                    meta["metadata"]["selected"] = True
        (work / "w-catalog.json").write_text(json.dumps(catalog))
        command = [
            str(BIN / "tap-activities"),
            "--config", str(work / "w.json"),
            "--catalog", str(work / "w-catalog.json"),
        ]  # fmt: skip
        median = median_run(repeat, lambda sample: run_counted(command, sample=sample))
    runs = [{"seconds": seconds} for seconds in median["all_seconds"]]
    print(f"\n{platform.node()} | {os.cpu_count()} cores | {dt.date.today()}")
    print(
        f"full sync, 3 People.ai streams x 8 windows ({jobs} jobs of {run_seconds:g} s, "
        f"{config.max_running_jobs} running at once), {median['records']} records"
    )
    print(f"upstream's own export time (floor): {floor:.2f} s")
    seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    print(
        f"tap wall time: {median['seconds']:.2f} s (runs: {seconds}) = "
        f"{median['seconds'] / floor:.2f}x "
        f"the floor; peak RSS {median['peak_rss_mb']:.0f} MB "
        f"(with its worker processes, PSS {median['tree_pss_mb']:.0f} MB)"
    )


def stock_case(work: Path, source: Path, sample: bool, writer: str = "") -> dict:
    """The stock singer-sdk tap over the same People.ai records, from a local file.

    ``writer`` ``msgspec``: with the SDK's msgspec writer instead of its default one.
    """
    (work / "stock.json").write_text(json.dumps({"path": str(source)}))
    return run_counted(
        [sys.executable, str(ROOT / "bench/stock_tap.py"), "--config", str(work / "stock.json")],
        {**os.environ, "STOCK_TAP_WRITER": writer},
        sample=sample,
    )


def clear(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def report(results: dict[str, dict], upstream: dict[str, dict], n: int, n_cm: int) -> None:
    machine = f"{platform.node()} | {os.cpu_count()} cores | Python {platform.python_version()}"
    print(f"\n{machine} | {dt.date.today()} | {n} People.ai / {n_cm} ChartMogul records")
    print(f"People.ai fragment pass (unless the case says otherwise): {described().description}")
    for name, u in upstream.items():
        rate = u["bytes"] / 1e6 / max(u["download_seconds"], 1e-9)
        print(
            f"upstream only, {name}: export {u['export_seconds']:.2f} s, "
            f"download {u['bytes'] / 1e6:.1f} MB in {u['download_seconds']:.2f} s "
            f"({rate:.0f} MB/s)"
        )
    print(
        f"{'case':38} {'records':>9} {'seconds':>8} {'rec/s':>9} {'cpu s':>6} {'peak RSS MB':>12}"
        f" {'sync s':>7} {'sync rec/s':>10} {'workers':>7} {'+workers PSS MB':>15}"
    )
    for name, r in results.items():
        rate = r["records"] / r["seconds"]
        r["rate"] = rate
        mb = r["peak_rss_mb"]
        sync = r.get("sync_seconds") or 0.0
        sync_text = f"{sync:>7.2f} {r['records'] / sync:>10.0f}" if sync else f"{'':>7} {'':>10}"
        print(
            f"{name:38} {r['records']:>9} {r['seconds']:>8.2f} {rate:>9.0f} "
            f"{r.get('cpu_seconds', 0):>6.2f} {mb:>12.1f} "
            f"{sync_text} {r.get('worker_processes', 0):>7} {r.get('tree_pss_mb', 0):>15.1f}"
        )
    for prefix in ("", SMALL):
        taps = [name for name in results if name.startswith(prefix + "tap-activities")]
        for baseline in STOCK_NAMES:
            stock = results.get(prefix + baseline)
            for name in taps if stock else ():
                ratio = results[name]["rate"] / stock["rate"]
                print(f"{name} / {baseline.removesuffix(' (file)')}: {ratio:.1f}x")
        raw = results.get(prefix + "raw orjson loop (file)")
        for name in taps if raw else ():
            print(f"{name} / raw orjson loop: {results[name]['rate'] / raw['rate']:.2f}x")
    print(
        json.dumps(
            {
                "upstream": upstream,
                "cases": {
                    k: {kk: (round(vv, 2) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                    for k, v in results.items()
                },
            }
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
