"""The differential fuzz, bounded: a few seconds of generated and mutated input per seed.

``tests/kit/fuzzkit.py`` generates People.ai lines (and zips, and ``frame()`` arguments) from
a seed; both fragment passes must agree byte for byte or on the same worded error, and
their output must keep the contract. The seeds are fixed, so a failure here reproduces
with ``python -m tests.fuzz_sanitized --seed N --rounds R --plain``; ``make fuzz`` runs
the same checks far longer, under AddressSanitizer and UBSan.
"""

from __future__ import annotations

import pytest

from tests.kit import fuzzkit

ROUNDS = 600
"""Per seed: about five seconds on one core, some 2,000 inputs."""


@pytest.mark.parametrize("seed", [21, 2121, 212121])
def test_both_passes_agree_on_generated_and_mutated_input(seed, tmp_path):
    tried = fuzzkit.run(seed, ROUNDS, tmp_path)
    assert tried >= 3 * ROUNDS  # every round ran its checks


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
