"""Knobs of the local upstream: data volume, timings, limits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass
class UpstreamConfig:
    """Everything that shapes the local upstream's data and behaviour."""

    seed: int = 42
    start: dt.date = dt.date(2024, 1, 1)
    end: dt.date = dt.date(2024, 3, 31)
    peopleai_per_day: int = 5
    """Activities per type and per activity day."""
    chartmogul_per_day: int = 3
    """Rows per activity type and per day."""
    queue_seconds: float = 0.5
    """How long a job stays Queued (pending) at least."""
    run_seconds: float = 1.0
    """How long a job runs (processing) at least."""
    run_seconds_per_1000_records: float = 0.0
    fragment_records: int = 20000
    fragment_field: str | None = "fragment"
    """The job field that tells the fragments: ``fragment`` (the document's), ``fragments``
    (one public script's), or None: no such field, the data is fetched whole."""
    fragment_is_count: bool = False
    """The field holds the count of fragments, not the highest index: the document says
    "count of fragments (0-based)", which reads either way."""
    reports_results_size: bool = True
    """Whether a Completed job carries ``results_size`` (bytes of its data)."""
    results_size_extra: int = 0
    """Added to ``results_size``: the document does not say what it counts, so it may
    count more than the bytes the fragments hold."""
    missing_fragment: int | None = None
    """A fragment (index; negative counts from the end) that answers 404 though the job
    lists it: data lost upstream, which a tap must never take for the end of the export."""
    token_ttl_seconds: float = 7200.0
    retention_seconds: float = 10 * 86400.0
    max_running_jobs: int = 2
    max_queued_jobs: int = 10
    chartmogul_success_word: str = "succeeded"
    unknown_fields: bool = True
    """People.ai records sometimes carry a field no schema lists (it must pass through)."""
    peopleai_compact: bool = False
    """People.ai records of about 550 bytes (one participant, no campaign, short texts),
    every date-time without an offset: the shape People.ai writes most, where the cost
    per record (not per byte) shows."""
    chartmogul_extra_column: str | None = "custom-note"
    chartmogul_bom: bool = False
    file_ttl_seconds: float = 7 * 86400.0
    peopleai_client_id: str = "local-client-id"
    peopleai_client_secret: str = "local-client-secret-0123456789"  # noqa: S105 - fake
    chartmogul_api_key: str = "local-chartmogul-key-0123456789"
    chartmogul_account: str = "acc_local"
