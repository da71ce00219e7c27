"""A window's proof: the bytes the upstream said its export holds, against the bytes received.

One rule decides whether a window's data is all there, and both the download (People.ai's
fragments) and the run report apply it, so the report shows the very verdict that let
the window pass or failed it:

- the upstream gave no size (ChartMogul's exports never do): the proof rests on the
  transfer's own checks (``Content-Length``, the zip's CRCs), "not given";
- every part answered ``200``: the window holds, even when the sizes differ, since the
  API document does not say what its size counts (the difference is reported);
- a part answered ``404`` (People.ai's last fragment index): the window holds only if the
  bytes received reach the declared size; short of it, data is missing upstream and the
  window fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ByteProof:
    """The bytes of one export: as declared upstream, as received, and whether all answered."""

    declared: int | None
    """Bytes the upstream says the export holds (People.ai ``results_size``); None: not given."""
    received: int
    """Bytes received, each part counted once (a part fetched again replaces its bytes)."""
    every_part_answered: bool = True
    """False when a part the export lists answered ``404``."""

    @property
    def holds(self) -> bool:
        """The rule: nothing is missing, as far as the upstream's own figures can tell."""
        return self.declared is None or self.every_part_answered or self.received >= self.declared

    @property
    def verdict(self) -> str:
        """One phrase for the report: ``matches``, ``differs, kept``, ``SHORT``, and so on."""
        if self.declared is None:
            return "not given"
        if not self.holds:
            return "SHORT: data is missing upstream"
        if self.received == self.declared:
            return "matches"
        if self.every_part_answered:
            return "differs, kept: every part answered"
        return "reached: the last index was past the end"

    def describe(self, size_name: str = "size") -> str:
        """``1234 bytes received of results_size 1234: matches``, or ``…, size not given``."""
        if self.declared is None:
            return f"{self.received} bytes received, {size_name} not given"
        return f"{self.received} bytes received of {size_name} {self.declared}: {self.verdict}"


class Receipts:
    """The proof of each recent job's download, by job id, for the run report.

    Bounded: only the last few jobs are kept (a stream reads its window's proof as soon as
    the window's records are out). A People.ai job's proof grows as its fragments arrive,
    so a source keeps a function that tells it, not a figure.
    """

    KEPT = 32

    def __init__(self) -> None:
        self._proofs: dict[str, Callable[[], ByteProof]] = {}
        self._lock = threading.Lock()

    def keep(self, job_id: str, proof: Callable[[], ByteProof]) -> None:
        """Remember how to tell ``job_id``'s proof (a download started or ended)."""
        with self._lock:
            self._proofs.pop(job_id, None)
            self._proofs[job_id] = proof
            while len(self._proofs) > self.KEPT:
                del self._proofs[next(iter(self._proofs))]

    def proof(self, job_id: str) -> ByteProof | None:
        """The job's proof so far, or None when nothing of it was downloaded in this run."""
        with self._lock:
            tell = self._proofs.get(job_id)
        return tell() if tell is not None else None
