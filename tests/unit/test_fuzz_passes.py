"""The differential fuzz, bounded: a few seconds of generated and mutated input per seed.

``tests/kit/fuzzkit.py`` generates People.ai lines (and zips, and ``frame()`` arguments) from
a seed; both fragment passes must agree byte for byte or on the same worded error, and
their output must keep the contract. The seeds are fixed, so a failure here reproduces
with ``python -m tests.fuzz_sanitized --seed N --rounds R --plain``; ``make fuzz`` runs
the same checks far longer, under AddressSanitizer and UBSan.
"""

from __future__ import annotations

import random

import pytest

from tap_activities.sources.chartmogul import zip_members
from tests.kit import fuzzkit
from tests.kit.zip_names import NAME_FAMILIES, NameTally, ZipNameError, check_zip_names

ROUNDS = 600
"""Per seed: about five seconds on one core, some 2,000 inputs."""


@pytest.mark.parametrize("seed", [21, 2121, 212121])
def test_both_passes_agree_on_generated_and_mutated_input(seed, tmp_path):
    names = NameTally()
    tried = fuzzkit.run(seed, ROUNDS, tmp_path, names=names)
    assert tried >= 3 * ROUNDS  # every round ran its checks
    # Every family of zip member names was tried (ROUNDS / 2 zips, one to five names each).
    assert set(names.per_family) == set(NAME_FAMILIES), names.summary()
    assert names.total >= ROUNDS // 2


def test_the_zip_name_check_finds_a_reader_that_decides_by_name(monkeypatch, tmp_path):
    """The harness can fail: a reader that skips members named like directories is caught."""
    original = zip_members.csv_member

    def by_name(archive, display_name):
        member = original(archive, display_name)
        return None if member is not None and member.filename.endswith("/") else member

    monkeypatch.setattr(zip_members, "csv_member", by_name)
    rng = random.Random(7)

    def many() -> None:
        for _ in range(500):
            check_zip_names(rng, tmp_path)

    with pytest.raises(ZipNameError, match="rows"):
        many()


def test_the_fuzzer_finds_a_difference_when_there_is_one(monkeypatch):
    """The harness can fail: a Python pass that drops a byte of one record is caught."""
    original = fuzzkit.outcome

    def skewed(content, *, native, size):
        verdict = original(content, native=native, size=size)
        if not native and verdict[0] == "ok":
            return ("ok", verdict[1][:-2] + b"\n", verdict[2])
        return verdict

    monkeypatch.setattr(fuzzkit, "outcome", skewed)
    with pytest.raises(fuzzkit.FuzzError):
        fuzzkit.check_lines(b'{"uid":"a"}\n', 1 << 20)
