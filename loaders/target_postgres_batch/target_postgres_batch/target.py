"""MeltanoLabs target-postgres 0.8.1 with a sink that lets PostgreSQL load BATCH files.

Its settings, SCHEMA handling, DDL and RECORD path are the stock target's; only
``process_batch_files`` differs (:mod:`target_postgres_batch.sink`).
"""

from __future__ import annotations

from target_postgres.target import TargetPostgres

from target_postgres_batch.sink import PostgresBatchSink


class TargetPostgresBatch(TargetPostgres):
    """target-postgres with JSONL BATCH files COPYed and merged by the server."""

    name = "target-postgres-batch"
    default_sink_class = PostgresBatchSink
