"""The stock target's way of loading a JSONL BATCH message, in bounded memory.

singer-sdk's ``Sink.process_batch_files`` reads a whole file into a list of records and
hands it to target-postgres's ``process_batch``: memory grows with the file (a million
records is gigabytes), and the loader's threads could do that for several files at once.
Here the same records, read the same way (the file through singer-sdk's storage helper,
gzip as it opens it, each line by its ``deserialize_json``), go to the same target-postgres
methods (``prepare_table``, ``copy_table_structure``, ``bulk_insert_records``, ``upsert``,
``drop_table``) a chunk at a time, and one message loads at a time in the whole target:

- a chunk is at most ``CHUNK_RECORDS`` records or ``CHUNK_BYTES`` of JSON, whichever comes
  first, so memory is about a chunk's records, never a file's;
- chunks are merged in file order, so the last record of a key still wins, as it does in
  the stock target's one merge per file;
- the whole message is one transaction, like the fast path's: a message that fails leaves
  nothing behind (the stock target commits file by file).

One case is knowingly not the stock target's: in a file longer than a chunk, two records
whose keys Python tells apart but PostgreSQL stores alike (the JSON number 1 and the string
"1" in a text key) in different chunks. The stock target puts both in one temporary table
and its merge fails on the duplicate key (or updates the row from either); here the later
one wins.
"""

from __future__ import annotations

import gzip
import threading
import typing as t
import zlib

from singer_sdk.singerlib.json import deserialize_json

from target_postgres_batch.files import BatchFileError, open_batch_file

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers._batch import BaseBatchFileEncoding
    from target_postgres.sinks import PostgresSink

CHUNK_RECORDS = 10_000  # singer-sdk's own batch size for RECORD messages
CHUNK_BYTES = 16 << 20  # of JSON text: decoded records take a few times that
# One message at a time loads this way in the whole target, whichever thread holds it:
# memory is one chunk's, and the work is Python's, which threads would not share anyway.
_ONE_AT_A_TIME = threading.Lock()


def record_chunks(
    files: t.Sequence[str],
    compression: str | None,
    storage: t.Any,
) -> Iterator[list[dict]]:
    """The files' records in file order, a chunk at a time, decoded as singer-sdk does."""
    chunk: list[dict] = []
    size = 0
    for url in files:
        try:
            with open_batch_file(url, storage) as raw:
                lines = gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else raw
                for line in lines:
                    chunk.append(deserialize_json(line))
                    size += len(line)
                    if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_BYTES:
                        yield chunk
                        chunk, size = [], 0
        except (OSError, EOFError, zlib.error) as exc:
            raise BatchFileError(f"BATCH file {url} cannot be read: {exc}") from exc
    if chunk:
        yield chunk


def load(sink: PostgresSink, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> int:
    """Load the message's files with target-postgres's own methods; the records loaded."""
    storage = sink.batch_config.storage if sink.batch_config else None
    loaded = 0
    with (
        _ONE_AT_A_TIME,
        sink.connector._connect() as connection,
        connection.begin(),
    ):  # guard.py checks it
        table = sink.connector.prepare_table(
            full_table_name=sink.full_table_name,
            schema=sink.schema,
            primary_keys=sink.key_properties,
            as_temp_table=False,
            connection=connection,
        )
        for records in record_chunks(files, encoding.compression, storage):
            temp_table = sink.connector.copy_table_structure(
                full_table_name=sink.temp_table_name,
                from_table=table,
                as_temp_table=True,
                connection=connection,
            )
            sink.bulk_insert_records(
                table=temp_table,
                schema=sink.schema,
                primary_keys=sink.key_properties,
                records=records,
                connection=connection,
            )
            sink.upsert(
                from_table=temp_table,
                to_table=table,
                schema=sink.schema,
                join_keys=sink.key_properties,
                connection=connection,
            )
            sink.connector.drop_table(table=temp_table, connection=connection)
            sink.record_counter_metric.increment(len(records))
            loaded += len(records)
    return loaded
