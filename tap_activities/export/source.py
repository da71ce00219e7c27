"""The source contract: what the tap asks of one bulk-export API's client.

The job engine asks a source to create a window's export job and to read a job's state
(:class:`ExportSource`); the Singer side asks for a completed job's records, serialised
and framed in blocks; the tap asks it to check its credentials before a sync and its
connection for ``--test``. All of it is :class:`Source`. A source declares what more it
can do by being one more protocol:

- :class:`ReconcilingSource`: it can list its jobs, so after a creation whose answer was
  lost the scheduler adopts the job that call made instead of creating a duplicate;
- :class:`DeflatingSource`: its workers compress its records themselves, in the pass that
  frames them, so gzipped JSON Lines BATCH files are laid from its compressed blocks
  without compressing anything again.

Records leave a source byte for byte as the upstream holds them, every schema field a
record lacks set to null, date-times with their offset (:mod:`tap_activities.records.contract`);
each block reports the types of the fields the schema does not list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from tap_activities.export.proof import ByteProof
from tap_activities.export.request import ExportRequest
from tap_activities.export.status import JobSnapshot
from tap_activities.records.deflated import DeflatedBlock
from tap_activities.records.framing import Block, Framing


class ExportSource(Protocol):
    """What the job engine asks of a source: jobs, and room for them upstream."""

    name: str
    """The source's name in the scheduler's messages and thread."""
    max_outstanding: int
    """How many jobs the upstream lets one client have created and not yet done."""

    def create(self, request: ExportRequest) -> JobSnapshot:
        """Create an export job for the request (never retried blindly: a duplicate costs).

        Raise ``RateLimitedError`` when the upstream says "not now", ``TransientError``
        when the answer was lost (the job may exist), another ``TapActivitiesError`` to
        fail the window.
        """
        ...

    def status(self, job_id: str) -> JobSnapshot:
        """Read a job's current state; raise ``NotFoundError`` if the upstream forgot it."""
        ...


@runtime_checkable
class ReconcilingSource(ExportSource, Protocol):
    """A source that can list its jobs, so an unclear creation can be checked."""

    def find_created(
        self, request: ExportRequest, since: float, exclude: set[str]
    ) -> JobSnapshot | None:
        """The job an unanswered ``create(request)`` may have made after ``since`` (epoch s).

        Jobs in ``exclude`` are this run's already. None: the upstream holds no such job.
        """
        ...


@runtime_checkable
class Source(ExportSource, Protocol):
    """Everything the tap asks of a source: the job engine's calls, records, and checks."""

    def check_credentials(self) -> str:
        """Check the credentials and the host before any job, cheaply; say what was checked."""
        ...

    def check_connection(self) -> str:
        """``--test``: check what a sync would need, exporting nothing; say what was checked."""
        ...

    def proof(self, job_id: str) -> ByteProof | None:
        """The job's bytes received against the size the upstream declared.

        None: no data of it was read in this run. The rule: :mod:`tap_activities.export.proof`.
        """
        ...

    def record_blocks(
        self,
        job: JobSnapshot,
        request: ExportRequest,
        fields: Iterable[str],
        framing: Framing,
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[Block]:
        """A completed job's records, in order, framed by ``framing``, in blocks.

        ``fields``: the schema's fields, null where a record lacks one; ``date_times``:
        paths of the schema's date-time fields, given their offset where they have none.
        Raise ``ExportExpiredError`` when the job's data is gone (the window is exported
        again), ``DataFormatError`` for a record the tap refuses.
        """
        ...


@runtime_checkable
class DeflatingSource(Source, Protocol):
    """A source whose workers compress its records as JSON Lines, for gzipped BATCH files."""

    def deflated_blocks(
        self,
        job: JobSnapshot,
        request: ExportRequest,
        fields: Iterable[str],
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[DeflatedBlock]:
        """The records of :meth:`Source.record_blocks` framed as JSON Lines, compressed."""
        ...
