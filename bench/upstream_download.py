"""The upstream alone: create one export per window, wait for them, download every byte.

No parsing, no checking, no file, no Singer output: it shows how fast the local upstream
exports and serves data to the tap's own HTTP client (People.ai fragments in parallel,
as many at once as the tap fetches), so the tap's numbers can be read against it. It
also renders the exports once, so the tap's runs that follow are not charged for the
upstream's serialisation. Prints one JSON line with bytes, seconds to completion and
download seconds.

    python bench/upstream_download.py CONFIG.json peopleai email 2024-01-01 2024-01-01
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from tap_activities.export.request import ExportRequest
from tap_activities.export.status import ExportStatus
from tap_activities.export.windows import Window
from tap_activities.settings import parse_settings
from tap_activities.sources.registry import SOURCES, build_runtime
from tap_activities.transfer.download import BodyGet, BodyReader, copy_body, read_body
from tap_activities.transfer.http import fetch_foreign


def _drain(body: BodyReader) -> None:
    """Read a body to its end and keep nothing."""
    while body.read(1 << 20):
        pass


class _Counter:
    """A write-only file that only counts bytes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.name = "/dev/null"

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def main(config_path: str, source: str, activity_type: str, *days: str) -> None:
    """Export each ``start..end`` pair of days and download it; print the totals."""
    settings = parse_settings(json.loads(Path(config_path).read_text()), SOURCES)
    runtime = build_runtime(source, settings)
    client: Any = runtime.client
    runtime.close()
    windows = [
        Window(dt.date.fromisoformat(a), dt.date.fromisoformat(b))
        for a, b in zip(days[::2], days[1::2], strict=True)
    ]
    started = time.perf_counter()
    jobs: list[Any] = []
    for window in windows:
        request = ExportRequest(
            stream=f"{source}_{activity_type}",
            activity_type=activity_type,
            window=window,
            export_type="snapshot" if source == "peopleai" else None,
        )
        jobs.append((request, client.create(request)))
    done = []
    for _request, created in jobs:
        job = created
        while job.status in {ExportStatus.QUEUED, ExportStatus.RUNNING}:
            time.sleep(0.02)
            job = client.status(job.job_id)
        assert job.status is ExportStatus.COMPLETED, job
        done.append(job)
    completed = time.perf_counter()
    total = 0
    for job in done:
        if source == "peopleai":
            from tap_activities.sources.peopleai.client import JOBS_PATH
            from tap_activities.sources.peopleai.fragments import fragment_indices

            headers = {"Authorization": f"Bearer {client._auth.token()}"}
            gets = [
                BodyGet(
                    client.api.url(f"{JOBS_PATH}/{job.job_id}/data"),
                    {} if i is None else {"fragment": i},
                    headers,
                    600.0,
                    "bench",
                )
                for i in fragment_indices(job.body) or [None]
            ]
            with ThreadPoolExecutor(settings.download_workers) as pool:
                for read in pool.map(partial(read_body, work=_drain), gets):
                    assert read is not None, "the upstream refused a fragment"
                    total += read.size
        else:
            out = _Counter()
            response = fetch_foreign(str(job.body["file_url"]), timeout=600.0, what="bench")
            copy_body(response, out, "bench")  # type: ignore[arg-type]
            total += out.bytes
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "bytes": total,
                "export_seconds": completed - started,
                "download_seconds": finished - completed,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
