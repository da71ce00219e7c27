"""Peak memory of target-postgres-batch on one BATCH message of a million records.

Writes one jsonl.gz file of ``--records`` records (ten fields of the kinds taps send:
strings, a date-time, integers, a number, a boolean, a nested object and an array, about
330 bytes each), then runs the ``target-postgres-batch`` command of this virtualenv on a
SCHEMA, that BATCH and a STATE, once per case, into a schema of its own it drops after:

- ``fast``: the COPY fast path;
- ``fallback``: ``sanitize_null_text_characters`` set, so the whole message loads the
  target's way (fallback.py), a chunk at a time;
- ``refused``: the same file with one record the fast path refuses at its end, so the
  fast path COPYs it all, rolls back and gives the message to the target's way: both.
- ``reload``: as ``fallback``, on the same file with a first line the target cannot bind
  (a string in an integer column) whose key a later record repeats: the stock target never
  binds it, the fallback's first chunk fails on it, and the file loads again binding each
  key's last record, after a pass that holds the file's million keys.
- ``stock`` (only with ``--stock``): MeltanoLabs target-postgres itself, for comparison;
  it reads the whole file into memory, gigabytes for a million records.

Each case's peak resident memory is the child process's (``wait4``'s ``ru_maxrss``);
PostgreSQL's own backends are not counted (they are the server's, bounded by its
settings). Exits 1 if a loader case peaks above ``--limit-mb`` (500).

    .venv-target-postgres-batch/bin/python loaders/target_postgres_batch/bench/memory.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

DSN = os.environ.get("TPB_TEST_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
SCHEMA = {
    "type": "object",
    "properties": {
        "uid": {"type": "string"},
        "subject": {"type": ["string", "null"]},
        "timestamp": {"type": ["string", "null"], "format": "date-time"},
        "duration": {"type": ["integer", "null"]},
        "amount": {"type": ["number", "null"]},
        "internal": {"type": ["boolean", "null"]},
        "owner": {"type": ["string", "null"]},
        "participants": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "meta": {"type": ["object", "null"], "properties": {}},
        "seq": {"type": ["integer", "null"]},
    },
}


def uid(i: int) -> str:
    return f"{i:012d}-{i * 7919 % 1000003:07d}"


def write_file(path: Path, records: int, case: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        if case == "reload":  # the key of the last record, which replaces it chunks later
            out.write(json.dumps({"uid": uid(records - 1), "duration": "unbindable"}) + "\n")
        for i in range(records):
            record = {
                "uid": uid(i),
                "subject": f"Quarterly review {i % 977}: naïve café ✓ 😀",
                "timestamp": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T10:{i % 60:02d}Z",
                "duration": i % 3600,
                "amount": (i % 100000) / 100,
                "internal": i % 3 == 0,
                "owner": f"owner{i % 113}@example.com",
                "participants": [f"p{i % 7}@example.com", f"p{i % 11}@example.com"],
                "meta": {"source": "bench", "n": i % 10, "tags": ["a", "b"]},
                "seq": i,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if case == "refused":
            out.write(json.dumps({"uid": "refused", "amount": 1e300}) + "\n")  # beyond 1e15


def run(command: str, config: dict, url: str, workdir: Path) -> tuple[float, float, str]:
    """One target on SCHEMA, BATCH, STATE: peak RSS in MB, seconds, its last log line."""
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    messages = [
        {"type": "SCHEMA", "stream": "bench", "schema": SCHEMA, "key_properties": ["uid"]},
        {
            "type": "BATCH",
            "stream": "bench",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [url],
        },
        {"type": "STATE", "value": {"bookmarks": {"bench": {"done": True}}}},
    ]
    started = time.monotonic()
    with (workdir / "log.txt").open("w") as log:
        process = subprocess.Popen(
            [command, "--config", str(config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
        process.stdin.close()
        state = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    lines = (workdir / "log.txt").read_text().splitlines()
    if process.returncode != 0 or b"done" not in state:
        sys.exit(f"{command} failed ({process.returncode}):\n" + "\n".join(lines[-20:]))
    said = [
        line
        for line in lines
        if "BATCH message of bench" in line or "refused" in line or "loaded again" in line
    ]
    return usage.ru_maxrss / 1024, seconds, " | ".join(s[s.find("BATCH") :] for s in said)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--cases", default="fast,fallback,refused,reload")
    parser.add_argument("--stock", action="store_true", help="also the stock target-postgres")
    parser.add_argument("--limit-mb", type=float, default=500)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    cases = args.cases.split(",") + (["stock"] if args.stock else [])
    schema = f"tpb_bench_memory_{os.getpid()}"
    base = {
        "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "trust",
        "database": "test", "default_target_schema": schema, "use_copy": True,
        "validate_records": False, "add_record_metadata": True,
    }  # fmt: skip
    print(f"# {dt.date.today()}: one BATCH message of {args.records:,} records, peak RSS")
    print("| case | peak RSS | wall | what the loader logged |")
    print("|:--|--:|--:|:--|")
    over = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = {}
        for case in cases:
            kind = case if case in {"refused", "reload"} else "plain"
            if kind not in files:
                files[kind] = workdir / f"bench-{kind}.jsonl.gz"
                write_file(files[kind], args.records, kind)
            config = dict(base)
            if case in {"fallback", "reload"}:
                config["sanitize_null_text_characters"] = True
            command = str(
                bindir / ("target-postgres" if case == "stock" else "target-postgres-batch")
            )
            url = f"file://{files[kind]}"
            try:
                peak, seconds, said = run(command, config, url, workdir)
            finally:
                with psycopg.connect(DSN, autocommit=True) as conn:
                    conn.execute(f'drop schema if exists "{schema}" cascade')
            print(f"| {case} | {peak:.0f} MB | {seconds:.1f} s | {said[:160]} |", flush=True)
            if case != "stock" and peak > args.limit_mb:
                over.append(case)
    if over:
        sys.exit(f"above {args.limit_mb:.0f} MB: {', '.join(over)}")


if __name__ == "__main__":
    main()
