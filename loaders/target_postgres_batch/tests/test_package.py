"""The package as published: its sdist and wheel build from this folder and pass ``twine check``.

Also: the version is written once (``__init__.py``) and the changelog's newest entry names
it, and the licence and README travel in both files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import target_postgres_batch

PACKAGE = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(PACKAGE)],
        capture_output=True,
        check=True,
    )
    return sorted(out.iterdir())


def test_twine_check_passes(dist):
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_holds_the_package_and_licence_only(dist):
    (wheel,) = [p for p in dist if p.suffix == ".whl"]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith("licenses/LICENSE") for n in names), names
    assert {n.split("/")[0] for n in names} == {
        "target_postgres_batch",
        f"target_postgres_batch-{target_postgres_batch.__version__}.dist-info",
    }


def test_the_sdist_holds_the_tests_and_documents(dist):
    (sdist,) = [p for p in dist if p.name.endswith(".tar.gz")]
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[-1] for n in archive.getnames()}
    for wanted in ("README.md", "CHANGELOG.md", "LICENSE", "tests/test_fuzz.py",
                   "plugin/loaders/target-postgres-batch.yml", "bench/memory.py"):  # fmt: skip
        assert wanted in names, wanted


def test_the_changelog_names_the_version():
    newest = re.search(r"^## \[([^\]]+)\]", (PACKAGE / "CHANGELOG.md").read_text(), re.M)
    assert newest.group(1) == target_postgres_batch.__version__
