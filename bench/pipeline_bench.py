r"""End to end: what a night's run costs with the loader in it (``make bench-pipeline``).

Each case is one or more whole ``meltano run``s from the local upstream into a real loader,
started together and timed until the last one exits, with the peak memory of the whole
process tree (meltano, the taps and their workers, the targets) as the sum of their PSS,
sampled every 0.2 s. Every case of one invocation loads the same records. Next to them:

- ``tap-alone``: the tap writing RECORD messages to /dev/null;
- ``floor``: what PostgreSQL itself needs: one stream's records
  COPYed into a one-column ``jsonb`` table, then INSERT … SELECTed as typed columns (the
  tap's own schema) into a table keyed on the stream's key. Every stream is loaded so, one
  after another; ``seconds`` is the slowest stream's (the streams are the same size),
  ``all_streams_seconds`` their sum. Each loader case's ``x_floor`` is its time over the
  former, ``x_floor_all`` over the latter.

Cases (``--cases``, comma-separated):

- ``pg-record``, ``pg-batch``: ``tap-activities`` → ``target-postgres`` (MeltanoLabs 0.8.1,
  meltano.yml's settings), RECORD messages or BATCH files (jsonl.gz);
- ``pg-copy-batch``: ``tap-activities`` → ``target-postgres-batch`` (loaders/
  target_postgres_batch: target-postgres 0.8.1 whose BATCH files PostgreSQL loads itself,
  COPY into jsonb and one INSERT … SELECT … ON CONFLICT per file set, no record read in
  Python), BATCH files (jsonl.gz);
- ``pg-record-x2``, ``pg-record-x3``, ``pg-copy-batch-x2``, ``pg-copy-batch-x3``: the same
  records through 2 or 3 pipelines at once, meltano.yml's parallel layout
  (``tap-activities--peopleai-email`` → ``target-postgres--peopleai-email``, …, loaders
  inheriting target-postgres-batch, which is the stock target for RECORD messages): x3 is
  one pipeline per People.ai stream, x2 is email+meeting in one and call in the other;
- ``pg-copy-batch-cached``: ``pg-copy-batch`` with the tap's catalog given to meltano
  (the ``catalog`` extra), as meltano caches it for a tap installed from a package: this
  repository's ``meltano.yml`` installs the tap editable (``-e``), and meltano then runs
  discovery before every run, a tap process and ~0.7-1 s a run that a user's install
  (``pip_url: tap-activities`` or ``git+https://…``) pays only when its settings change;
- ``pg-copy-batch-no-bytecode``: ``pg-copy-batch`` with every plugin compiling its imports
  at every start, as where ``PYTHONDONTWRITEBYTECODE`` is set and meltano's installer (uv)
  was not given meltano.yml's ``UV_COMPILE_BYTECODE``: ``PYTHONPYCACHEPREFIX`` points every
  process at a folder holding the bytecode of Python's standard library and of meltano
  alone, so meltano starts as in the other cases and the plugins' packages do not;
- ``snowflake-batch``: ``target-snowflake`` 0.20.4 into a local fakesnow server through
  loaders/target_snowflake_fake, BATCH: the target's own stage path (PUT, MERGE from the
  stage), emulated by DuckDB. Its time is the tap's, meltano's, the target's Python and
  DuckDB's reading of the staged files; it says nothing of Snowflake's own COPY speed.

    .venv/bin/python bench/pipeline_bench.py --records 120000
    .venv/bin/python bench/pipeline_bench.py --cases floor,pg-record-x3 \
        --target-config '{"batch_size_rows": 50000}'
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# The local upstream lives beside the tap in this repository, not in its wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline_floor import copy_floor
from run_bench import children, pss_kb
from upstream_process import UpstreamProcess

from activities_upstream import UpstreamConfig

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
TAP = Path(sys.executable).with_name("tap-activities")
FAKESNOW = ROOT / ".venv-fakesnow" / "bin" / "fakesnow"
DAY = dt.date(2024, 1, 1)
KINDS = ("email", "meeting", "call")
CASES = (
    "tap-alone", "floor", "pg-record", "pg-record-x2", "pg-record-x3", "pg-batch",
    "pg-copy-batch", "pg-copy-batch-cached", "pg-copy-batch-no-bytecode", "pg-copy-batch-x2",
    "pg-copy-batch-x3",
    "snowflake-batch",
)  # fmt: skip
FAST_LOADER = "target-postgres-batch"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
# Pipelines per degree of parallelism: (extractor, loader, the streams it selects or None).
LAYOUTS = {
    1: [("tap-activities", "target-postgres", None)],
    2: [
        ("tap-activities--peopleai-email", "target-postgres--peopleai-email",
         ["peopleai_email", "peopleai_meeting"]),
        ("tap-activities--peopleai-call", "target-postgres--peopleai-call", None),
    ],
    3: [(f"tap-activities--peopleai-{k}", f"target-postgres--peopleai-{k}", None) for k in KINDS],
}  # fmt: skip


class TreePeak(threading.Thread):
    """The highest sum of PSS over some processes and all their descendants, every 0.2 s."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            tree, todo = [], list(self.pids)
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo.extend(children(pid))
            self.peak_kb = max(self.peak_kb, sum(pss_kb(pid) for pid in tree))

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_kb / 1024


BATCH_RECORDS = [100_000]  # --batch-size: the tap's records per BATCH file
LOGS: list[Path] = []  # --log-dir: where each run's meltano output goes (none: kept in memory)


def timed(commands: list[list[str]], envs: list[dict[str, str]], stdout: int | None = None) -> dict:
    """Start every command at once; wall time until the last exits, and the tree's peak."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE
        )
        for command, env in zip(commands, envs, strict=True)
    ]
    peak = TreePeak([p.pid for p in procs])
    peak.start()
    outputs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - started
    memory = peak.stop()
    for command, proc, (out, err) in zip(commands, procs, outputs, strict=True):
        if LOGS:
            name = "-".join(a for a in command[-2:] if not a.startswith("/"))
            log = LOGS[0] / f"{time.strftime('%H%M%S')}-{name}.log"
            log.write_bytes((err or b"") + (out or b""))
        if proc.returncode != 0:
            tail = (out or b"")[-2000:] + (err or b"")[-3000:]
            raise SystemExit(f"{' '.join(command[:4])} failed:\n{tail.decode(errors='replace')}")
    return {"seconds": round(seconds, 2), "tree_pss_mb": round(memory, 1)}


def pg_case(case: str, env: dict[str, str]) -> dict:
    """1, 2 or 3 pipelines into PostgreSQL at once, into a schema dropped afterwards."""
    degree = int(case.rsplit("-x", 1)[1]) if "-x" in case else 1
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    commands, envs = [], []
    layout = LAYOUTS[degree]
    if case.startswith("pg-copy-batch") and degree == 1:  # the parallel layouts' loaders are
        # target-postgres-batch's; one pipeline runs the plain extractor into it
        layout = [("tap-activities", FAST_LOADER, None)]
    for extractor, loader, streams in layout:
        run_env = {**env, "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}
        if streams:  # meltano's variable for the plugin's `select` extra
            variable = extractor.upper().replace("-", "_") + "__SELECT"
            run_env[variable] = json.dumps([f"{s}.*" for s in streams])
        commands.append([str(MELTANO), "--environment=local", "run", extractor, loader])
        envs.append(run_env)
    create_schema(schema)  # loaders starting together race on CREATE SCHEMA IF NOT EXISTS
    try:
        return timed(commands, envs)
    finally:
        drop_schema(schema)


def create_schema(schema: str) -> None:
    import psycopg  # the test extra's

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')


def drop_schema(schema: str) -> None:
    import psycopg  # the test extra's

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{schema}" cascade')


def snowflake_case(env: dict[str, str]) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(FAKESNOW), "-s", "-p", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        python = FAKESNOW.with_name("python")
        create = (
            "import snowflake.connector as s; s.connect(user='f', password='f', account='f',"
            f" host='127.0.0.1', port={port}, protocol='http', network_timeout=30,"
            " session_parameters={'CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED': False})"
            ".cursor().execute('create database if not exists ACTIVITIES')"
        )
        subprocess.run([str(python), "-c", create], check=True, capture_output=True)
        env = {**env, "FAKESNOW_HOST": "127.0.0.1", "FAKESNOW_PORT": str(port)}
        env["TARGET_SNOWFLAKE_FAKE_DEFAULT_TARGET_SCHEMA"] = "BENCH"
        command = [str(MELTANO), "--environment=local", "run", "tap-activities"]
        return timed([[*command, "target-snowflake-fake"]], [env])
    finally:
        server.terminate()
        server.wait(timeout=15)


def tap_alone(up: UpstreamProcess, base: dict[str, str], tmp: Path) -> dict:
    """The tap alone, RECORD messages to /dev/null; its output kept once for the floor."""
    config = tmp / "tap.json"
    config.write_text(
        json.dumps({
            "start_date": DAY.isoformat(), "end_date": DAY.isoformat(),
            "peopleai_api_url": up.peopleai_url,
            "peopleai_client_id": up.peopleai_client_id,
            "peopleai_client_secret": up.peopleai_client_secret,
            "poll_interval_seconds": 0.05,
        })
    )  # fmt: skip
    with open(os.devnull, "wb") as sink:
        return timed([[str(TAP), "--config", str(config)]], [base], stdout=sink)


def tap_output(tmp: Path, base: dict[str, str]) -> Path:
    """The tap's messages for these records, in a file (for the floor; not timed)."""
    out = tmp / "tap-output.jsonl"
    with out.open("wb") as sink:
        subprocess.run([str(TAP), "--config", str(tmp / "tap.json")], env=base, stdout=sink,
                       stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    return out


def discovered_catalog(up: UpstreamProcess, base: dict[str, str], tmp: Path) -> Path:
    """The tap's catalog for these settings, as meltano would discover and cache it."""
    catalog = tmp / "catalog.json"
    if not catalog.exists():
        if not (tmp / "tap.json").exists():
            tap_alone(up, base, tmp)
        found = subprocess.run(
            [str(TAP), "--config", str(tmp / "tap.json"), "--discover"],
            env=base, capture_output=True, check=True,
        )  # fmt: skip
        catalog.write_bytes(found.stdout)
    return catalog


def meltano_bytecode_only(tmp: Path) -> Path:
    """A bytecode folder (``PYTHONPYCACHEPREFIX``) with the standard library's and meltano's."""
    prefix = tmp / "pycache-meltano-only"
    if not prefix.exists():
        python = MELTANO.with_name("python")
        find = "import sys, sysconfig; print(sysconfig.get_paths()['stdlib'], sys.prefix)"
        folders = subprocess.run(
            [str(python), "-c", find], capture_output=True, text=True, check=True
        ).stdout.split()
        subprocess.run(
            [str(python), "-m", "compileall", "-q", "-j", "0", *folders],
            env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}, capture_output=True,
            check=False,  # some test files of the standard library do not compile
        )  # fmt: skip
    return prefix


def run_case(case: str, up: UpstreamProcess, env: dict, base: dict, tmp: Path) -> dict:
    """One case, its batch directory and meltano state its own."""
    # Its own meltano database each run: no state, so every run exports the same records.
    database = tmp / f"meltano-{case}-{uuid.uuid4().hex[:8]}.db"
    run_env = {**env, "MELTANO_DATABASE_URI": f"sqlite:///{database}"}
    if "batch" in case:
        batches = tmp / f"batches-{case}-{uuid.uuid4().hex[:8]}"
        batches.mkdir()
        run_env["TAP_ACTIVITIES_BATCH_CONFIG"] = json.dumps(
            {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": f"file://{batches}"},
                "batch_size": BATCH_RECORDS[0],
            }
        )
    if case.endswith("-cached"):
        run_env["TAP_ACTIVITIES__CATALOG"] = str(discovered_catalog(up, base, tmp))
    if case.endswith("-no-bytecode"):
        run_env["PYTHONPYCACHEPREFIX"] = str(meltano_bytecode_only(tmp))
        run_env["PYTHONDONTWRITEBYTECODE"] = "1"  # the plugins' stays uncompiled each run
    if case == "tap-alone":
        return tap_alone(up, base, tmp)
    if case == "floor":
        if not (tmp / "tap.json").exists():
            tap_alone(up, base, tmp)
        return copy_floor(tap_output(tmp, base), PG_DSN)
    # meltano's system database exists before runs overlap (they race on its migrations).
    command = [str(MELTANO), "--environment=local", "state", "list"]
    subprocess.run(command, cwd=ROOT, env=run_env, check=True, capture_output=True)
    if case.startswith("pg-"):
        return pg_case(case, run_env)
    return snowflake_case(run_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=120_000, help="People.ai, 3 streams")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--target-config", default="{}", help="JSON overrides for target-postgres settings"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs a case; the median shown")
    parser.add_argument("--log-dir", type=Path, help="keep each run's meltano output here")
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_RECORDS[0], help="the tap's records per BATCH file"
    )
    args = parser.parse_args()
    BATCH_RECORDS[0] = args.batch_size
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
        LOGS.append(args.log_dir)
    per_stream = args.records // len(KINDS)
    config = UpstreamConfig(
        seed=1, start=DAY, end=DAY, peopleai_per_day=per_stream, chartmogul_per_day=0,
        queue_seconds=0.05, run_seconds=0.1, fragment_records=20_000,
        unknown_fields=False, chartmogul_extra_column=None,
    )  # fmt: skip
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))}
    with (
        tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp,
        UpstreamProcess(config) as up,
    ):
        for kind in KINDS:
            up.generate("peopleai", kind, DAY, DAY)
        env = {
            **base,
            "TAP_ACTIVITIES_START_DATE": DAY.isoformat(),
            "TAP_ACTIVITIES_END_DATE": DAY.isoformat(),
            "TAP_ACTIVITIES_PEOPLEAI_API_URL": up.peopleai_url,
            "TAP_ACTIVITIES_PEOPLEAI_CLIENT_ID": up.peopleai_client_id,
            "TAP_ACTIVITIES_PEOPLEAI_CLIENT_SECRET": up.peopleai_client_secret,
            "TAP_ACTIVITIES_CHARTMOGUL_API_KEY": "",
            "TAP_ACTIVITIES_POLL_INTERVAL_SECONDS": "0.05",
        }
        for name, value in json.loads(args.target_config).items():
            env[f"TARGET_POSTGRES_{name.upper()}"] = str(value)
        install(env, tmp)
        results = {}
        for case in args.cases.split(","):
            runs = [run_case(case, up, env, base, Path(tmp)) for _ in range(args.repeat)]
            found = median_run(runs)
            found["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
            if "floor" in results and case != "floor":
                floor = results["floor"]
                found["x_floor"] = round(found["seconds"] / floor["seconds"], 1)
                found["x_floor_all"] = round(found["seconds"] / floor["all_streams_seconds"], 1)
            results[case] = found
            ratio = found.get("x_floor", "-")
            times = " ".join(f"{x:.1f}" for x in found.get("all_seconds", []))
            print(f"{case:16} {found['seconds']:8.1f} s {found['tree_pss_mb']:8.0f} MB"
                  f"  x_floor {ratio}  load {found['load']}  {times}", flush=True)  # fmt: skip
    print(json.dumps({"records": per_stream * len(KINDS), "cases": results}))


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's time and the highest peak of them."""
    runs = sorted(runs, key=lambda r: r["seconds"])
    found = dict(runs[(len(runs) - 1) // 2])
    if len(runs) > 1:
        found["all_seconds"] = [r["seconds"] for r in runs]
        found["tree_pss_mb"] = max(r["tree_pss_mb"] for r in runs)
        if "all_streams_seconds" in found:  # the floor: the median run's own sum
            found["per_run_all_streams"] = [r["all_streams_seconds"] for r in runs]
    return found


def install(env: dict[str, str], tmp: str) -> None:
    """Every plugin the cases use, installed once (meltano skips what is installed)."""
    plugins = {"tap-activities", "target-postgres", FAST_LOADER, "target-snowflake-fake"}
    for layout in LAYOUTS.values():
        plugins.update(p for extractor, loader, _ in layout for p in (extractor, loader))
    subprocess.run(
        [str(MELTANO), "--environment=local", "install", *sorted(plugins)],
        cwd=ROOT, env={**env, "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db"},
        check=True, capture_output=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
