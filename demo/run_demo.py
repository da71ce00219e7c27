"""The demo pipeline: local upstream -> ``meltano run tap-activities target-duckdb``.

Starts the local People.ai / ChartMogul upstream with a seeded data set covering all eight
streams, runs the pipeline through meltano (environment ``local``), stops the upstream, and
prints the rows per stream read back from the DuckDB file next to the records the upstream
holds. A difference is an error (exit 1): a demo that shows a wrong count is worse than none.

The first run builds history with snapshot exports. A later run finds meltano's saved state
and runs incrementally (delta windows, ChartMogul look-back); before it, the upstream adds
new activities and changes some old ones on the last day, so the incremental run has
something to bring.

    make demo            # or: .venv/bin/python demo/run_demo.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# The local upstream lives beside the tap in this repository, not in its wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities_upstream import LocalUpstream, UpstreamConfig
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
DUCKDB_FILE = ROOT / "demo-output" / "demo.duckdb"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
STATE_ID = "local:tap-activities-to-target-duckdb"
SCHEMA = "activities"

START = dt.date(2026, 10, 1)
END = dt.date(2026, 10, 28)
UPSTREAM = UpstreamConfig(
    seed=2026,
    start=START,
    end=END,
    peopleai_per_day=40,
    chartmogul_per_day=4,
    queue_seconds=0.5,
    run_seconds=1.5,
    fragment_records=500,
)
# The tap's own progress lines (job states, windows, records); meltano's are left out.
PROGRESS = re.compile(r"tap_activities|window|job |fragment|records?\b", re.IGNORECASE)


def meltano(*args: str, env: dict[str, str], show_progress: bool = False) -> str:
    """Run meltano in the project; on failure print its output and stop the demo."""
    command = [str(MELTANO), "--environment=local", *args]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if show_progress and "tap-activities" in line and PROGRESS.search(line):
            print("  " + tidy(line), flush=True)
    if proc.wait() != 0:
        sys.stderr.write("".join(lines[-60:]))
        raise SystemExit(f"demo: `meltano {' '.join(args)}` failed (exit {proc.returncode})")
    return "".join(lines)


def tidy(line: str) -> str:
    """The tap's message without meltano's timestamp and level."""
    text = line.split("]", 1)[-1] if line.startswith("20") else line
    return re.sub(r"\s+", " ", text).strip()[:160]


def saved_state(env: dict[str, str]) -> dict | None:
    """Meltano's saved state for this pipeline, or None before the first run."""
    output = meltano("state", "list", env=env)
    if STATE_ID not in output:
        return None
    raw = meltano("state", "get", STATE_ID, env=env).strip().splitlines()
    for line in reversed(raw):
        if line.startswith("{"):
            return json.loads(line)
    return None


def expected_keys(up: LocalUpstream, incremental: bool, state: dict | None) -> dict[str, set]:
    """Keys the DuckDB tables must hold: the history, plus what an incremental run adds."""
    keys: dict[str, set] = {}
    for kind in PEOPLEAI_TYPES:
        keys[f"peopleai_{kind}"] = {r["uid"] for r in up.peopleai.records(kind, START, END)}
    for kind in CHARTMOGUL_TYPES:
        keys[f"chartmogul_{kind}"] = {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
    if incremental:
        for kind in PEOPLEAI_TYPES:
            bookmark = bookmark_of(state, f"peopleai_{kind}") or END
            keys[f"peopleai_{kind}"] |= {
                r["uid"] for r in up.peopleai.records(kind, bookmark, END, by="processed")
            }
        for kind in CHARTMOGUL_TYPES:
            keys[f"chartmogul_{kind}"] |= {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}
    return keys


def bookmark_of(state: dict | None, stream: str) -> dt.date | None:
    """A People.ai stream's bookmark in meltano's saved state."""
    bookmarks = ((state or {}).get("singer_state") or {}).get("bookmarks") or {}
    value = (bookmarks.get(stream) or {}).get("bookmark")
    return dt.date.fromisoformat(value) if value else None


def documented_fields(stream: str) -> set[str]:
    """The fields of a stream's documented schema (``schemas/``)."""
    schema = json.loads((ROOT / "schemas" / f"{stream}.json").read_text())
    return set(schema["properties"])


def duckdb_counts(streams: list[str]) -> dict[str, dict]:
    """Per table: rows, distinct keys, and the values in columns the upstream added.

    Those are the columns the documented schema does not list (declared by the tap in
    updated SCHEMA messages), counted by their non-null values. Read with the loader's
    own duckdb (0.10.x files).
    """
    tables = [
        (s, "uid" if s.startswith("peopleai") else "uuid", sorted(documented_fields(s)))
        for s in streams
    ]
    script = f"""
import duckdb, json
con = duckdb.connect({str(DUCKDB_FILE)!r}, read_only=True)
out = {{}}
for stream, key, documented in {tables!r}:
    try:
        rows, keys = con.execute(
            f"select count(*), count(distinct {{key}}) from {SCHEMA}.{{stream}}"
        ).fetchone()
    except duckdb.CatalogException:
        out[stream] = {{"rows": 0, "keys": 0, "new": {{}}}}
        continue
    columns = [c[0] for c in con.execute(
        "select column_name from information_schema.columns "
        f"where table_schema = '{SCHEMA}' and table_name = '{{stream}}'"
    ).fetchall()]
    new = {{
        c: con.execute(f'select count("{{c}}") from {SCHEMA}.{{stream}}').fetchone()[0]
        for c in columns
        if c not in documented and not c.startswith("_sdc_")
    }}
    out[stream] = {{"rows": rows, "keys": keys, "new": new}}
print(json.dumps(out))
"""
    result = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", script], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"demo: reading {DUCKDB_FILE} failed: {result.stderr.strip()[-400:]}")
    return json.loads(result.stdout)


def upstream_new_fields(up: LocalUpstream, stream: str) -> dict[str, int]:
    """Non-null values of each field outside the documented schema, as the upstream holds them."""
    kind = stream.split("_", 1)[1]
    if stream.startswith("peopleai"):
        records = up.peopleai.records(kind, START, END)
    else:
        records = [
            {k.replace("-", "_"): v or None for k, v in row.items()}
            for row in up.chartmogul.rows(kind, START, END)
        ]
    documented = documented_fields(stream)
    counts: dict[str, int] = {}
    for record in records:
        for name, value in record.items():
            if name not in documented:
                counts[name] = counts.get(name, 0) + (value is not None)
    return counts


def main() -> None:
    """Run the pipeline once (full or incremental) and check every stream's rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="forget saved state and data first")
    args = parser.parse_args()
    if not MELTANO.exists():
        raise SystemExit(f"demo: {MELTANO} is missing; run `make demo`")
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ACTIVITIES_")}
    print("demo: installing meltano plugins (cached after the first run) ...", flush=True)
    meltano("install", "tap-activities", "target-duckdb", env=env)
    if args.fresh:
        DUCKDB_FILE.unlink(missing_ok=True)
        meltano("state", "clear", "--force", STATE_ID, env=env)
    state = saved_state(env)
    incremental = state is not None and DUCKDB_FILE.exists()
    if state is not None and not incremental:
        meltano("state", "clear", "--force", STATE_ID, env=env)
        state = None
    DUCKDB_FILE.parent.mkdir(exist_ok=True)

    with LocalUpstream(UPSTREAM) as up:
        if incremental:
            added = up.peopleai.mutate(END, new=30, changed=6)
            added += up.chartmogul.mutate(END, new=10, changed=5)
            bookmark = bookmark_of(state, "peopleai_email")
            print(
                f"demo: saved state found (People.ai bookmark {bookmark})"
                f": this run is INCREMENTAL (delta windows, ChartMogul look-back); the upstream"
                f" has {len(added)} new or changed activities",
                flush=True,
            )
        else:
            print(
                f"demo: no saved state: this run builds history {START}..{END} with snapshot"
                " exports",
                flush=True,
            )
        env.update(
            TAP_ACTIVITIES_START_DATE=START.isoformat(),
            TAP_ACTIVITIES_END_DATE=END.isoformat(),
            TAP_ACTIVITIES_PEOPLEAI_API_URL=up.peopleai_url,
            TAP_ACTIVITIES_PEOPLEAI_CLIENT_ID=up.peopleai_client_id,
            TAP_ACTIVITIES_PEOPLEAI_CLIENT_SECRET=up.peopleai_client_secret,
            TAP_ACTIVITIES_CHARTMOGUL_API_URL=up.chartmogul_url,
            TAP_ACTIVITIES_CHARTMOGUL_API_KEY=up.chartmogul_api_key,
            TAP_ACTIVITIES_POLL_INTERVAL_SECONDS="0.2",
        )
        print("demo: meltano run tap-activities target-duckdb", flush=True)
        meltano("run", "tap-activities", "target-duckdb", env=env, show_progress=True)
        want = expected_keys(up, incremental, state)
        new_fields = {stream: upstream_new_fields(up, stream) for stream in want}
        if up.violations:
            raise SystemExit(f"demo: the upstream saw protocol violations: {up.violations}")

    got = duckdb_counts(list(want))
    print(f"\n{'stream':26} {'rows in DuckDB':>15} {'upstream':>10}   new upstream fields (values)")
    wrong = []
    for stream, keys in want.items():
        table = got.get(stream, {"rows": 0, "keys": 0, "new": {}})
        rows, distinct = table["rows"], table["keys"]
        mark = "" if rows == distinct == len(keys) else "  <-- MISMATCH"
        # A full run loads exactly the upstream's records: their new fields must be there.
        if not incremental and table["new"] != new_fields[stream]:
            mark += f"  <-- NEW FIELDS {table['new']} != upstream {new_fields[stream]}"
        if mark or not keys:
            wrong.append(stream)
        fields = ", ".join(f"{name} ({count})" for name, count in sorted(table["new"].items()))
        print(f"{stream:26} {rows:>15} {len(keys):>10}   {fields or '-'}{mark}")
    kind = "incremental" if incremental else "full"
    print(f"\ndemo: {kind} run took {time.monotonic() - started:.0f} s")
    where = DUCKDB_FILE.relative_to(ROOT)
    print(f"demo: data in {where}; query it with the loader's duckdb (0.10.2), e.g.")
    query = f"select type, count(*) from {SCHEMA}.peopleai_email group by 1"
    print(
        f'  {DUCKDB_PYTHON.relative_to(ROOT)} -c "import duckdb; con = duckdb.connect('
        f"'{DUCKDB_FILE.relative_to(ROOT)}', read_only=True); con.sql('{query}').show()\""
    )
    print("demo: run `make demo` again for an incremental run, `make demo-clean` to start over")
    if wrong:
        raise SystemExit(f"demo: rows differ from the upstream for {', '.join(wrong)}")


if __name__ == "__main__":
    main()
