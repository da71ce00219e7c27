"""MeltanoLabs target-postgres 0.8.1, with BATCH messages loaded by PostgreSQL itself.

Its settings, SCHEMA handling, DDL, type mapping and RECORD path are the stock target's.
What differs:

- its sink (:mod:`target_postgres_batch.sink`) loads a JSONL BATCH message by COPY into a
  temporary jsonb table and one INSERT … SELECT, and anything it cannot load exactly as the
  target would goes the target's own way, in bounded memory (:mod:`.fallback`);
- BATCH messages of different streams load at once, in threads (:mod:`.loads`), so this
  class makes each stream's other messages wait for its loads, and STATE for all of them:
  the four message handlers below;
- when it starts, it checks the private names of singer-sdk and target-postgres it relies
  on (:mod:`.guard`): a changed handler makes the run take the stock target's path, with one
  warning; a missing connection or file helper stops it before it reads any input.
"""

from __future__ import annotations

import typing as t

from target_postgres.target import TargetPostgres

from target_postgres_batch import guard
from target_postgres_batch.loads import Loads
from target_postgres_batch.sink import PostgresBatchSink

WORKERS_SETTING = "batch_load_workers"
# Loads at once by default, each a PostgreSQL backend and a transaction held open until it
# commits: enough that the streams of a tap load side by side and overlap its output, few
# enough not to crowd a server shared with others. Raise it on a server with cores to spare.
DEFAULT_WORKERS = 3


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
        """The guard's verdict (guard.py) before anything else, then the stock target."""
        findings = guard.check()
        stops = [f for f in findings if f.action == guard.STOP]
        if stops:
            raise guard.GuardError(guard.stop_message(stops))
        super().__init__(*args, **kwargs)
        self.fast_path = not findings
        if findings:
            self.logger.warning(guard.stock_message(findings))
        workers = int(self.config.get(WORKERS_SETTING) or DEFAULT_WORKERS) if self.fast_path else 1
        self.batch_loads = Loads(workers)

    # A stream's other messages wait for its loads; STATE is only written after all loads.
    # The handlers forward whatever the SDK passes: on the stock path (a changed handler)
    # nothing runs in threads and they only call the SDK's own.
    def _streams_of(self, message_dict: dict) -> set[str]:
        """The sinks' stream names a message goes to (stream map aliases included)."""
        stream = message_dict.get("stream", "")
        return {stream} | {m.stream_alias for m in self.mapper.stream_maps.get(stream, [])}

    def _process_schema_message(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self.batch_loads.threaded:
            self.batch_loads.wait(self._streams_of(args[0]))
        super()._process_schema_message(*args, **kwargs)

    def _process_record_message(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self.batch_loads.threaded:
            self.batch_loads.wait(self._streams_of(args[0]))
        super()._process_record_message(*args, **kwargs)

    def _process_activate_version_message(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self.batch_loads.threaded:
            self.batch_loads.wait(self._streams_of(args[0]))
        super()._process_activate_version_message(*args, **kwargs)

    def _write_state_message(self, *args: t.Any, **kwargs: t.Any) -> None:
        self.batch_loads.wait()
        super()._write_state_message(*args, **kwargs)

    def process_endofpipe(self) -> None:
        """Every load committed (or its error raised) before the target's own end."""
        self.batch_loads.wait()
        super().process_endofpipe()
