"""The target's own way (fallback.py) ends as the stock target does, file by file and key by key.

The stock target loads a BATCH message file by file, and in each file binds only the last
record of each key (its ``bulk_insert_records`` keeps them in a dict). The fallback reads
a chunk of records at a time: its chunks never span two files, and a keyed file whose
chunks fail is loaded again binding only each key's last record, so it fails where the
stock target fails and nowhere else. NUL (``\\u0000``), which PostgreSQL's jsonb refuses,
sends every message holding it to this path, wherever it is in a record: the cases below
put it in nested values, keys, arrays and repeated keys, and compare both targets.
"""

from __future__ import annotations

import pytest
from target_postgres.target import TargetPostgres

from target_postgres_batch import fallback
from target_postgres_batch.target import TargetPostgresBatch
from tests.kit import (
    batch_message,
    first_difference,
    run_target,
    table_cells,
    target_config,
    write_batch,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "s": {"type": ["string", "null"]},
        "o": {"type": ["object", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
    },
}
STATE = {"type": "STATE", "value": {"bookmarks": {"nul": {"done": True}}}}


def both_targets(schemas, urls: list[str], use_copy: bool, keys=("id",), **config):
    """The stock target's run and the loader's on one BATCH message of ``urls``."""
    msgs = [
        {"type": "SCHEMA", "stream": "nul", "schema": SCHEMA, "key_properties": list(keys)},
        batch_message("nul", urls),
        STATE,
    ]
    stock_schema, fast_schema = schemas
    settings = {"use_copy": use_copy, "validate_records": False, **config}
    stock = run_target(TargetPostgres, target_config(stock_schema, **settings), msgs)
    fast = run_target(TargetPostgresBatch, target_config(fast_schema, **settings), msgs)
    return stock, fast


def assert_alike(schemas, stock, fast) -> None:
    """Both fail (the loader naming the stream), or both load the same rows and STATE."""
    assert fast.failed == stock.failed, (stock.error, fast.error)
    if stock.failed:
        assert "of stream nul cannot be loaded" in str(fast.error), fast.error
        assert fast.states == [], "a STATE came out of a failed load"
        return
    assert not first_difference(*(table_cells(schema, "nul") for schema in schemas))
    assert fast.states == stock.states == [STATE["value"]]


@pytest.mark.parametrize("use_copy", [False, True])
def test_a_record_superseded_only_by_a_later_file_fails_as_on_the_stock_target(
    schemas, tmp_path, use_copy
):
    """The fuzz's case: the stock target binds file 1's record of key "a" and fails there.

    Its nested object repeats a key whose last value holds NUL: jsonb refuses the line, the
    message falls back, and the fallback must not let file 2's record of "a" hide it.
    """
    first = write_batch(
        tmp_path / "1.jsonl.gz",
        [r'{"id":"a","o":{"k":1,"k":"a\u0000b"}}', r'{"id":"b","o":{}}'],
    )
    second = write_batch(tmp_path / "2.jsonl.gz", [r'{"id":"a","o":{"k":2}}'])
    stock, fast = both_targets(schemas, [first, second], use_copy)
    assert stock.failed
    assert_alike(schemas, stock, fast)
    assert f"BATCH file {first} of stream nul" in str(fast.error)
    assert "UntranslatableCharacter" in str(fast.error)


@pytest.mark.parametrize("use_copy", [False, True])
@pytest.mark.parametrize(
    ("last", "loads"),
    [(r'{"id":"a","s":"fixed"}', True), (r'{"id":"a","s":"still a\u0000b"}', False)],
    ids=["last-record-good", "last-record-bad"],
)
def test_a_keyed_file_failing_in_chunks_is_loaded_again_with_each_keys_last_record(
    schemas, tmp_path, monkeypatch, last, loads, use_copy
):
    """Chunks of 2: key "a"'s first record (NUL in text) fails its chunk, which the stock
    target never binds when a later record of "a" in the file replaces it."""
    monkeypatch.setattr(fallback, "CHUNK_RECORDS", 2)
    lines = [r'{"id":"a","s":"a\u0000b"}', r'{"id":"b","s":"x"}', r'{"id":"c"}', last]
    url = write_batch(tmp_path / "split.jsonl.gz", lines)
    stock, fast = both_targets(schemas, [url], use_copy)
    assert stock.failed is not loads
    assert_alike(schemas, stock, fast)
    assert f"BATCH file {url} of nul failed in chunks; loaded again" in fast.log
    if loads:
        assert "4 records from 1 files the target's way" in fast.log
        assert len(table_cells(schemas[1], "nul")[1]) == 3


def test_chunks_of_the_fallback_keep_the_last_record_of_a_key(schemas, tmp_path, monkeypatch):
    """A file longer than a chunk, keys repeated across chunks: the stock target's rows."""
    monkeypatch.setattr(fallback, "CHUNK_RECORDS", 3)
    lines = [f'{{"id": "k{i % 4}", "s": "{i}", "tags": ["{i}"]}}' for i in range(23)]
    lines.append('{"id": "k0", "s": "a\\u0000b"}')  # NUL: the fast path refuses it
    url = write_batch(tmp_path / "chunks.jsonl.gz", lines)
    stock, fast = both_targets(schemas, [url], use_copy=True, sanitize_null_text_characters=True)
    assert (stock.error, fast.error) == (None, None)
    assert "24 records from 1 files the target's way" in fast.log
    assert "failed in chunks" not in fast.log
    assert_alike(schemas, stock, fast)
    assert len(table_cells(schemas[1], "nul")[1]) == 4


# NUL wherever a record may hold it, and what only looks like it: each as the stock target.
NUL_ANYWHERE = {
    "in a nested array": r'{"id":"a","o":{"x":[[{"y":"\u0000"}]]}}',
    "in a deep object": r'{"id":"a","o":{"a":{"b":{"c":{"d":"x\u0000"}}}}}',
    "in a nested key": r'{"id":"a","o":{"k\u0000":1}}',
    "in a nested key, the key repeated": r'{"id":"a","o":{"k\u0000":1,"k\u0000":2}}',
    "in the first of a repeated nested key": r'{"id":"a","o":{"k":"\u0000","k":1}}',
    "in the last of a repeated nested key": r'{"id":"a","o":{"k":1,"k":"\u0000"}}',
    "in a repeated nested key written two ways": r'{"id":"a","o":{"k":1,"\u006b":"\u0000"}}',
    "in the first of a repeated property": r'{"id":"a","s":"a\u0000b","s":"x"}',
    "in the last of a repeated property": r'{"id":"a","s":"x","s":"a\u0000b"}',
    "in a property the schema lacks": r'{"id":"a","extra":{"z":"\u0000"}}',
    "in the name of a property the schema lacks": r'{"id":"a","extra\u0000":1}',
    "in a text array": r'{"id":"a","tags":["x","\u0000"]}',
    "in the key": r'{"id":"a\u0000"}',
    "only an escaped backslash before u0000": r'{"id":"a","s":"a\\u0000b","o":{"k":"\\u0000"}}',
}


@pytest.mark.parametrize("use_copy", [False, True])
@pytest.mark.parametrize("case", sorted(NUL_ANYWHERE))
def test_nul_anywhere_in_a_record_ends_as_on_the_stock_target(schemas, tmp_path, case, use_copy):
    lines = [r'{"id":"z","s":"plain","o":{"k":[1,{"k":"v"}]},"tags":["t"]}', NUL_ANYWHERE[case]]
    url = write_batch(tmp_path / "nul.jsonl.gz", lines)
    stock, fast = both_targets(schemas, [url], use_copy)
    assert_alike(schemas, stock, fast)
    if "\\u0000" in NUL_ANYWHERE[case].replace("\\\\u0000", ""):
        assert "refused by the COPY fast path" in fast.log, fast.log[-2000:]
    else:
        assert "the target's way" not in fast.log, fast.log[-2000:]
