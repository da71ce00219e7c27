"""End to end: what a night's run costs with the loader in it (``make bench-pipeline``).

Each case is a whole ``meltano run`` from the local upstream into a real loader, timed from
start to exit, with the peak memory of the whole process tree (meltano, the tap and its
workers, the target) as the sum of their PSS, sampled every 0.2 s. The tap alone, writing
RECORD messages to /dev/null, is measured next to it in the same run.

    .venv/bin/python bench/pipeline_bench.py --records 200000
    .venv/bin/python bench/pipeline_bench.py --cases pg-batch --target-config '{"use_copy": true}'

Cases: ``tap-alone``, ``pg-record``, ``pg-batch`` (MeltanoLabs target-postgres 0.8.1 into
PostgreSQL at 127.0.0.1:5432), ``snowflake-batch`` (target-snowflake 0.20.4 into a local
fakesnow server, through loaders/target_snowflake_fake: the fake's speed is DuckDB's and
says nothing of Snowflake's; the case shows the target's own share).
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

from run_bench import children, pss_kb
from upstream_process import UpstreamProcess

from activities_upstream import UpstreamConfig

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
TAP = Path(sys.executable).with_name("tap-activities")
FAKESNOW = ROOT / ".venv-fakesnow" / "bin" / "fakesnow"
DAY = dt.date(2024, 1, 1)
KINDS = ("email", "meeting", "call")
CASES = ("tap-alone", "pg-record", "pg-batch", "snowflake-batch")


class TreePeak(threading.Thread):
    """The highest sum of PSS over a process and all its descendants, every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo.extend(children(pid))
            self.peak_kb = max(self.peak_kb, sum(pss_kb(pid) for pid in tree))

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_kb / 1024


def timed(command: list[str], env: dict[str, str], stdout: int | None = None) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = TreePeak(proc.pid)
    peak.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    memory = peak.stop()
    if proc.returncode != 0:
        tail = (out or b"")[-2000:] + (err or b"")[-3000:]
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{tail.decode(errors='replace')}")
    return {"seconds": round(seconds, 2), "tree_pss_mb": round(memory, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="People.ai, 3 streams")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--target-config", default="{}", help="JSON overrides for target-postgres settings"
    )
    args = parser.parse_args()
    cases = args.cases.split(",")
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
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db",
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
        subprocess.run(
            [str(MELTANO), "--environment=local", "install", "tap-activities", "target-postgres",
             "target-snowflake-fake"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        results = {}
        for case in cases:
            run_env = dict(env)
            batches = Path(tmp) / f"batches-{case}"
            if case.endswith("batch"):
                batches.mkdir()
                run_env["TAP_ACTIVITIES_BATCH_CONFIG"] = json.dumps(
                    {
                        "encoding": {"format": "jsonl", "compression": "gzip"},
                        "storage": {"root": f"file://{batches}"},
                        "batch_size": 100_000,
                    }
                )
            run_env["MELTANO_DATABASE_URI"] = f"sqlite:///{tmp}/meltano-{case}.db"
            if case == "tap-alone":
                (Path(tmp) / "tap.json").write_text(
                    json.dumps({
                        "start_date": DAY.isoformat(), "end_date": DAY.isoformat(),
                        "peopleai_api_url": up.peopleai_url,
                        "peopleai_client_id": up.peopleai_client_id,
                        "peopleai_client_secret": up.peopleai_client_secret,
                        "poll_interval_seconds": 0.05,
                    })
                )  # fmt: skip
                with open(os.devnull, "wb") as sink:
                    results[case] = timed(
                        [str(TAP), "--config", str(Path(tmp) / "tap.json")], base, stdout=sink
                    )
            elif case.startswith("pg-"):
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                run_env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
                try:
                    results[case] = timed(
                        [str(MELTANO), "--environment=local", "run", "tap-activities",
                         "target-postgres"], run_env,
                    )  # fmt: skip
                finally:
                    drop_schema(schema)
            else:
                results[case] = snowflake_case(run_env)
            found = results[case]
            print(f"{case:18} {found['seconds']:8.1f} s {found['tree_pss_mb']:8.0f} MB", flush=True)
    print(json.dumps({"records": per_stream * len(KINDS), "cases": results}))


def drop_schema(schema: str) -> None:
    import psycopg  # the test extra's

    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
    with psycopg.connect(dsn, autocommit=True) as conn:
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
        return timed(
            [str(MELTANO), "--environment=local", "run", "tap-activities",
             "target-snowflake-fake"], env,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
