"""MeltanoLabs target-postgres 0.8.1 with a sink that lets PostgreSQL load BATCH files.

Its settings, SCHEMA handling, DDL and RECORD path are the stock target's; only
``process_batch_files`` differs (:mod:`target_postgres_batch.sink`).
"""

from __future__ import annotations

import typing as t

from target_postgres.target import TargetPostgres

from target_postgres_batch.loads import Loads
from target_postgres_batch.sink import PostgresBatchSink

WORKERS_SETTING = "batch_load_workers"
DEFAULT_WORKERS = 3  # one per People.ai stream; PostgreSQL queues the rest on its cores


class TargetPostgresBatch(TargetPostgres):
    """target-postgres with JSONL BATCH files COPYed and merged by the server, tables at once."""

    name = "target-postgres-batch"
    default_sink_class = PostgresBatchSink
    config_jsonschema: t.ClassVar[dict] = {
        **TargetPostgres.config_jsonschema,
        "properties": {
            **TargetPostgres.config_jsonschema["properties"],
            WORKERS_SETTING: {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": (
                    "BATCH messages of different tables loaded at once, each on a connection "
                    f"of its own (default {DEFAULT_WORKERS}; 1 loads each before reading on)"
                ),
            },
        },
    }

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """The stock target, and the loads its sinks hand over (loads.py)."""
        super().__init__(*args, **kwargs)
        self.batch_loads = Loads(int(self.config.get(WORKERS_SETTING) or DEFAULT_WORKERS))

    # A stream's other messages wait for its loads; STATE is only written after all loads.
    def _streams_of(self, message_dict: dict) -> set[str]:
        """The sinks' stream names a message goes to (stream map aliases included)."""
        stream = message_dict.get("stream", "")
        return {stream} | {m.stream_alias for m in self.mapper.stream_maps.get(stream, [])}

    def _process_schema_message(self, message_dict: dict) -> None:
        self.batch_loads.wait(self._streams_of(message_dict))
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        self.batch_loads.wait(self._streams_of(message_dict))
        super()._process_record_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.batch_loads.wait(self._streams_of(message_dict))
        super()._process_activate_version_message(message_dict)

    def _write_state_message(self, state: dict) -> None:
        self.batch_loads.wait()
        super()._write_state_message(state)

    def process_endofpipe(self) -> None:
        """Every load committed (or its error raised) before the target's own end."""
        self.batch_loads.wait()
        super().process_endofpipe()
