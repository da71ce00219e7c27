"""target-postgres-batch reads BATCH files with singer-sdk's private storage helper, in chunks.

files.py finds and opens a BATCH file the way singer-sdk's sinks do, through
``singer_sdk.helpers._batch.StorageTarget`` (guard.py checks it at start: test_guard.py),
and hands COPY its bytes a chunk at a time.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from target_postgres_batch import fallback, files


def test_chunks_reads_a_file_through_the_helper_in_pieces(tmp_path: Path):
    lines = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 200) for i in range(20_000))
    path = tmp_path / "batch.json.gz"
    path.write_bytes(gzip.compress(lines))
    got = list(files.chunks(f"file://{path}", "gzip", None))
    assert b"".join(got) == lines
    assert len(got) > 1
    assert max(map(len, got)) <= files.CHUNK_BYTES


def test_a_truncated_file_is_one_error_naming_it(tmp_path: Path):
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(b'{"n": 1}\n' * 10_000)[:-20])
    with pytest.raises(files.BatchFileError, match=f"BATCH file file://{path} cannot be read"):
        list(files.chunks(f"file://{path}", "gzip", None))


def test_the_fallback_reads_a_chunk_of_records_at_a_time(tmp_path: Path, monkeypatch):
    """Memory of the fallback is a chunk's records, never a file's (bench/memory.py: MB)."""
    monkeypatch.setattr(fallback, "CHUNK_RECORDS", 7)
    small = [b'{"n": %d}' % i for i in range(30)]
    first = tmp_path / "small.jsonl.gz"
    first.write_bytes(gzip.compress(b"\n".join(small) + b"\n"))
    sizes = [len(chunk) for chunk in fallback.file_chunks(f"file://{first}", "gzip", None)]
    assert sizes == [7, 7, 7, 7, 2]


def test_the_fallback_splits_chunks_by_bytes(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(fallback, "CHUNK_BYTES", 1000)
    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * 400) for i in range(6)]
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    chunks = list(fallback.file_chunks(f"file://{path}", None, None))
    assert [len(c) for c in chunks] == [3, 3]
    assert [r["n"] for c in chunks for r in c] == list(range(6))


def test_the_fallback_keeps_only_the_lines_it_is_told_to(tmp_path: Path, monkeypatch):
    """The second pass of a keyed file: each key's last line, as the stock target's dict."""
    monkeypatch.setattr(fallback, "CHUNK_RECORDS", 2)
    lines = [b'{"id": %d, "n": %d}' % (i % 3, i) for i in range(8)] + [b'{"id": 1.0, "n": 8}']
    path = tmp_path / "keyed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    keep, count = fallback.last_of_each_key(f"file://{path}", None, None, ["id"])
    assert count == 9
    chunks = list(fallback.file_chunks(f"file://{path}", None, None, keep))
    # 1.0 is 1 to Python: the line the stock target's dict keeps for key 1 is the last.
    assert [[r["n"] for r in c] for c in chunks] == [[5, 6], [8]]
