"""The benchmark still runs and still counts what it claims to (not how fast: no times).

``make bench`` is run by hand, rarely, and a broken benchmark is found only when its
figures are needed. This runs it on a few thousand records with the upstream in its own
process, and checks what each case counted and measured.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.kit.paths import ROOT

CASES = (
    "raw",
    "peopleai-record",
    "peopleai-batch",
    "peopleai-record-bundled",
    "chartmogul-record",
    "chartmogul-batch",
    "stock-msgspec",
    "small-raw",
    "small-peopleai-record",
    "small-peopleai-record-pure",
    "small-stock-msgspec",
)


def test_the_benchmark_counts_every_record_of_every_case():
    command = [
        sys.executable, str(ROOT / "bench/run_bench.py"),
        "--records", "3000", "--small-records", "3000",
        "--cases", ",".join(("upstream", *CASES)), "--repeat", "1",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stderr.strip().splitlines()[-1])
    cases = report["cases"]
    assert len(cases) == len(CASES)
    for name, case in cases.items():
        assert case["records"] == 3000, name
        assert case["peak_rss_mb"] > 10, name  # measured, in the run of its own
        assert case["sampled_seconds"] > 0, name
        assert len(case["all_seconds"]) == 1, name
        if "BATCH" in name:
            assert case["batches"] == 1, name  # 3,000 records, batch_size 100,000
    assert report["upstream"]["People.ai"]["bytes"] > 3000 * 1000
    assert report["upstream"]["ChartMogul"]["bytes"] > 3000 * 50
    assert "tap-activities BATCH, People.ai" in done.stdout
    # Small records are compared within their own size, against the msgspec stock tap too.
    assert "small records: tap-activities RECORD, People.ai, Python pass / raw orjson loop" in (
        done.stdout
    )
    assert "small records: tap-activities RECORD, People.ai / stock singer-sdk tap, msgspec" in (
        done.stdout
    )
    # The -bundled case's pass: built as without the system's simdjson.
    assert "the -bundled case's native pass: simdjson from pysimdjson " in done.stderr
