"""target-postgres 0.8.1 with a COPY fast path for JSONL BATCH files (see sink.py)."""
