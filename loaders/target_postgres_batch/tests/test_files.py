"""target-postgres-batch reads BATCH files with singer-sdk's private storage helper, in chunks.

files.py finds and opens a BATCH file the way singer-sdk's sinks do, through
``singer_sdk.helpers._batch.StorageTarget`` (guard.py checks it at start: test_guard.py),
and hands COPY its bytes a chunk at a time.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from target_postgres_batch import files


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
