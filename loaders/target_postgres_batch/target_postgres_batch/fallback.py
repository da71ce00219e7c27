"""The stock target's way of loading a JSONL BATCH message, in bounded memory.

singer-sdk's ``Sink.process_batch_files`` reads a whole file into a list of records and
hands it to target-postgres's ``process_batch``, one file at a time: memory grows with the
file (a million records is gigabytes), and the loader's threads could do that for several
files at once. Here the same records, read the same way (the file through singer-sdk's
storage helper, gzip as it opens it, each line by its ``deserialize_json``), go to the same
target-postgres methods (``prepare_table``, ``copy_table_structure``,
``bulk_insert_records``, ``upsert``, ``drop_table``) a chunk at a time, and one message
loads at a time in the whole target:

- a chunk is at most ``CHUNK_RECORDS`` records or ``CHUNK_BYTES`` of JSON, whichever comes
  first, and never spans two files: the stock target keeps the last record of each key
  within a file, so a record superseded only by a later file is still bound (and fails
  there if the stock target fails on it);
- chunks are merged in file order, so the last record of a key still wins, as it does in
  the stock target's one merge per file;
- a keyed file split into chunks binds records the stock target never binds (a key's
  earlier records, dropped by its ``bulk_insert_records`` before binding). If one of them
  fails, the file is loaded again from a savepoint, binding only each key's last record in
  the file (a first pass finds them: memory is the file's distinct keys), which is what
  the stock target binds: it then fails only where the stock target fails;
- the whole message is one transaction, like the fast path's: a message that fails leaves
  nothing behind (the stock target commits file by file), and its error names the stream
  and the file.

Two cases are knowingly not the stock target's, both keys of one column written as JSON
values of different types, in a file longer than a chunk with the two in different chunks:
keys Python tells apart but PostgreSQL stores alike (the number 1 and the string "1" in a
text key: the stock target puts both in one temporary table and its merge fails on the
duplicate key or updates the row from either; here the later one wins), and keys Python
takes as one but PostgreSQL stores apart (1 and 1.0 in a text key: the stock target keeps
the later record only; here both rows stay).
"""

from __future__ import annotations

import gzip
import threading
import typing as t
import zlib

from singer_sdk.singerlib.json import deserialize_json

from target_postgres_batch.files import BatchFileError, open_batch_file
from target_postgres_batch.merge import through_temp_table

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import sqlalchemy
    from singer_sdk.helpers._batch import BaseBatchFileEncoding
    from target_postgres.sinks import PostgresSink

CHUNK_RECORDS = 10_000  # singer-sdk's own batch size for RECORD messages
CHUNK_BYTES = 16 << 20  # of JSON text: decoded records take a few times that
# One message at a time loads this way in the whole target, whichever thread holds it:
# memory is one chunk's, and the work is Python's, which threads would not share anyway.
_ONE_AT_A_TIME = threading.Lock()


class FallbackLoadError(RuntimeError):
    """A BATCH file the target's own way failed on: the stock target fails there too."""


def _lines(url: str, compression: str | None, storage: t.Any) -> Iterator[bytes]:
    """The file's lines, read as singer-sdk reads them; BatchFileError if unreadable."""
    try:
        with open_batch_file(url, storage) as raw:
            yield from gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise BatchFileError(f"BATCH file {url} cannot be read: {exc}") from exc


def file_chunks(
    url: str,
    compression: str | None,
    storage: t.Any,
    keep: Callable[[int, dict], bool] | None = None,
) -> Iterator[list[dict]]:
    """One file's records in order, a chunk at a time, decoded as singer-sdk does.

    With ``keep``, only the records it keeps (given each line's number and record).
    """
    chunk: list[dict] = []
    size = 0
    for number, line in enumerate(_lines(url, compression, storage)):
        record = deserialize_json(line)
        if keep is not None and not keep(number, record):
            continue
        chunk.append(record)
        size += len(line)
        if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def last_of_each_key(
    url: str, compression: str | None, storage: t.Any, keys: t.Sequence[str]
) -> tuple[Callable[[int, dict], bool], int]:
    """Which lines are the last of their key in the file, and how many lines it has.

    The key is ``tuple(record[k] for k in keys)``, as target-postgres's
    ``bulk_insert_records`` takes it into a dict (a record without a key fails there and
    here alike): the line kept is the one whose record that dict would keep.
    """
    last: dict[tuple, int] = {}
    number = -1
    for number, line in enumerate(_lines(url, compression, storage)):
        record = deserialize_json(line)
        last[tuple(record[key] for key in keys)] = number
    return (lambda n, record: last[tuple(record[key] for key in keys)] == n), number + 1


def _load_chunks(
    sink: PostgresSink,
    connection: sqlalchemy.engine.Connection,
    table: sqlalchemy.Table,
    chunks: Iterator[list[dict]],
) -> int:
    """Each chunk through target-postgres's temporary table and merge; the records read."""
    loaded = 0
    for records in chunks:

        def fill(temp_table: sqlalchemy.Table, records: list[dict] = records) -> None:
            sink.bulk_insert_records(
                table=temp_table,
                schema=sink.schema,
                primary_keys=sink.key_properties,
                records=records,
                connection=connection,
            )

        through_temp_table(sink, connection, table, sink.temp_table_name, fill)
        loaded += len(records)
    return loaded


def _load_file(
    sink: PostgresSink,
    connection: sqlalchemy.engine.Connection,
    table: sqlalchemy.Table,
    url: str,
    *,
    compression: str | None,
    storage: t.Any,
) -> int:
    """One file chunk by chunk, the records it holds; if a keyed one fails, once more.

    The second time only each key's last record in the file is bound, as the stock target
    binds them: its failure is then the stock target's (see the module's docstring).
    """
    if not sink.key_properties:
        return _load_chunks(sink, connection, table, file_chunks(url, compression, storage))
    savepoint = connection.begin_nested()
    try:
        loaded = _load_chunks(sink, connection, table, file_chunks(url, compression, storage))
    except BatchFileError:
        raise
    except Exception:  # whatever failed, the records the stock target binds decide
        savepoint.rollback()
    else:
        savepoint.commit()
        return loaded
    sink.logger.info(
        "BATCH file %s of %s failed in chunks; loaded again with only each key's last record, "
        "the records the stock target binds",
        url,
        sink.stream_name,
    )
    keep, lines = last_of_each_key(url, compression, storage, sink.key_properties)
    _load_chunks(sink, connection, table, file_chunks(url, compression, storage, keep))
    return lines


def load(sink: PostgresSink, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> int:
    """Load the message's files with target-postgres's own methods; the records loaded.

    FallbackLoadError, naming the stream and the file, if a file fails (BatchFileError if
    it cannot be read); nothing of the message is kept then.
    """
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
        for url in files:
            try:
                count = _load_file(
                    sink, connection, table, url, compression=encoding.compression, storage=storage
                )
            except BatchFileError:
                raise
            except Exception as exc:
                said = (str(exc).splitlines() or [""])[0]
                raise FallbackLoadError(
                    f"BATCH file {url} of stream {sink.stream_name} cannot be loaded, the "
                    f"stock target's way either: {type(exc).__name__}: {said}"
                ) from exc
            sink.record_counter_metric.increment(count)
            loaded += count
    return loaded
