"""target-postgres-batch reads BATCH files with singer-sdk's private storage helper, guarded.

``loaders/target_postgres_batch/target_postgres_batch/files.py`` finds and opens a BATCH
file the way singer-sdk's sinks do, through ``singer_sdk.helpers._batch.StorageTarget``: a
private name. If a singer-sdk release moves it or drops a method the loader calls, the
sink must take the target's own path (``storage_problem`` names why), not fail. These run
against the singer-sdk installed here, the tap's own, which is the loader's pin too
(``~=0.54``); the loader's end-to-end tests are in test_postgres_batch_loader.py.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.kit.paths import ROOT

FILES = ROOT / "loaders" / "target_postgres_batch" / "target_postgres_batch" / "files.py"


@pytest.fixture(scope="module")
def files():
    """The loader's files.py, imported from its path (the loader is not installed here)."""
    spec = importlib.util.spec_from_file_location("target_postgres_batch_files", FILES)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_installed_sdk_serves_the_fast_path(files):
    assert files.StorageTarget is not None
    assert files.storage_problem() == ""


def test_an_sdk_without_the_helper_is_named(files):
    assert files.storage_problem(None) == "singer-sdk has no helpers._batch.StorageTarget"


@pytest.mark.parametrize("gone", ["split_url", "from_url", "open"])
def test_an_sdk_whose_helper_lost_a_method_is_named(files, gone):
    changed = type("StorageTarget", (files.StorageTarget,), {gone: None})
    assert files.storage_problem(changed) == f"singer-sdk's StorageTarget lacks {gone}"


def test_chunks_reads_a_file_through_the_helper_in_pieces(files, tmp_path: Path):
    lines = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 200) for i in range(20_000))
    path = tmp_path / "batch.json.gz"
    path.write_bytes(gzip.compress(lines))
    got = list(files.chunks(f"file://{path}", "gzip", None))
    assert b"".join(got) == lines
    assert len(got) > 1
    assert max(map(len, got)) <= files.CHUNK_BYTES


def test_a_truncated_file_is_one_error_naming_it(files, tmp_path: Path):
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(b'{"n": 1}\n' * 10_000)[:-20])
    with pytest.raises(files.BatchFileError, match=f"BATCH file file://{path} cannot be read"):
        list(files.chunks(f"file://{path}", "gzip", None))
