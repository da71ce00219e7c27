"""People.ai's fragments: a completed job's data, downloaded and framed in parallel.

A job's data comes in fragments (``GET …/jobs/{id}/data?fragment=i``). Each goes straight
from the socket into a worker's pass (:class:`~.lines.record_lines.RecordLines`, which
validates, contracts and frames its lines) and waits in a spool until its turn; a
fragment that does not answer a clean ``200`` is fetched to a file, with retries, and the
pass runs over the file. A broken line means "fetch again" before anything of the
fragment is emitted. :class:`FragmentTally` decides whether a 404 on the last index is
the end of the data or a lost fragment.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from tap_activities.errors import (
    ExportExpiredError,
    MalformedPartError,
    NotFoundError,
    UpstreamError,
)
from tap_activities.export.proof import ByteProof, Receipts
from tap_activities.export.status import JobSnapshot
from tap_activities.records.contract import FieldTypes
from tap_activities.records.deflated import DeflatedBlock
from tap_activities.records.framing import LINES, Block, Framing
from tap_activities.records.spooled import (
    BlockMeta,
    deflate_part,
    read_blocks,
    read_deflated,
    spool_blocks,
)
from tap_activities.sources.peopleai.lines.record_lines import Readable, RecordLines
from tap_activities.transfer.download import (
    BodyGet,
    BodyRead,
    PartDownloader,
    TransferGauge,
    copy_body,
    read_body,
)
from tap_activities.transfer.http import ApiSession
from tap_activities.transfer.spool import Handoff, Spool
from tap_activities.transfer.workers import WorkerPool, WorkersBusyError

LOGGER = logging.getLogger("tap_activities.peopleai")
DOWNLOAD_SECONDS_PER_20MB = 60.0
"""The API's download timeout: 60 seconds per 20 MB of a fragment."""


class FragmentReader:
    """Downloads a completed job's fragments and runs the pass over each, in order."""

    def __init__(
        self,
        api: ApiSession,
        token: Callable[[], str],
        jobs_path: str,
        downloader: PartDownloader,
        workers: WorkerPool,
    ) -> None:
        """``token``: the bearer token a worker sends with its own GET of a fragment."""
        self.api = api
        self._token = token
        self.jobs_path = jobs_path
        self.downloader = downloader
        self.workers = workers
        self._transfers = TransferGauge()
        self.receipts = Receipts()
        """Each recent job's bytes against its ``results_size`` (the run report's proof)."""

    def blocks(
        self,
        job: JobSnapshot,
        where: str,
        fields: Iterable[str],
        framing: Framing,
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[Block]:
        """A completed job's records, in order, serialised with null-filled schema fields.

        This is the tap's one way to read People.ai data: the SDK's record path decodes
        these blocks (framed as JSON Lines) too. ``date_times`` (paths of the schema's
        date-time fields) are given their offset
        (:class:`~.lines.record_lines.RecordLines`).

        Each fragment is validated, null-filled and framed by a worker (a worker process,
        or its download thread) in one pass over its lines: a broken line means "fetch
        again" before anything of the fragment is emitted. Fragments are downloaded and
        framed in parallel, a few ahead of the one emitted. The framed bytes wait in a
        spool file; this thread only copies them out, in order.
        """
        work = partial(
            frame_fragment,
            fields=tuple(fields),
            framing=framing,
            directory=self._spool_directory,
            date_times=tuple(date_times),
        )
        for part in self._prepared(job, where, work):
            yield from read_blocks(part)

    def deflated(
        self,
        job: JobSnapshot,
        where: str,
        fields: Iterable[str],
        date_times: Iterable[tuple[str, ...]] = (),
    ) -> Iterator[DeflatedBlock]:
        """The records of :meth:`blocks` (JSON Lines), compressed for a gzip file.

        As :meth:`blocks`, with the framed lines compressed in the same worker
        pass (ISA-L, which releases the GIL).
        """
        work = partial(
            deflate_fragment,
            fields=tuple(fields),
            directory=self._spool_directory,
            date_times=tuple(date_times),
        )
        for part in self._prepared(job, where, work):
            yield from read_deflated(part)

    def _prepared(self, job: JobSnapshot, where: str, work: FragmentPass) -> Iterator[Spool[Any]]:
        """Each fragment as ``work`` prepared it in a worker, in order.

        The worker sends the fragment's GET itself and feeds the body to ``work`` as it
        arrives (:func:`read_body`). Only if that does not get a clean ``200`` is the
        fragment fetched the regular way, to a file, and ``work`` run over the file.
        """
        for _label, (_path, part) in self._results(job, where, work):
            yield part

    @property
    def _spool_directory(self) -> str | None:
        directory = self.downloader.directory
        return None if directory is None else str(directory)

    def _results(
        self,
        job: JobSnapshot,
        where: str,
        work: FragmentPass,
    ) -> Iterator[tuple[str, tuple[Path, Any]]]:
        """``(label, (file, prepared))`` of each fragment, in order.

        The body goes straight into ``work`` in a worker; when that does not get a clean
        ``200``, the fragment is fetched to a file and ``work`` runs over the file. A
        :class:`MalformedPartError` from ``work`` fetches the fragment again.
        """
        indices = fragment_indices(job.body)
        size = job.body.get("results_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            size = None
        parts = max(1, len(indices or [0]))
        per_part = size / parts if size else 0.0
        timeout = max(self.api.timeout, DOWNLOAD_SECONDS_PER_20MB * math.ceil(per_part / 20e6))
        last = indices[-1] if indices else 0
        tally = FragmentTally(where, size)
        self.receipts.keep(job.job_id, tally.proof)
        # Index 0 as the last index: no data if 'fragment' is a count (0), all of it if
        # it is the highest index; only a results_size can tell which.
        fetchers = [
            partial(
                self._fetch_part,
                _Part(
                    job.job_id,
                    i,
                    timeout,
                    where,
                    i == last and (bool(i) or size is not None),
                    tally,
                ),
                work=work,
            )
            for i in (indices if indices is not None else [None])
        ]
        labels = [_label(where, i) for i in (indices if indices is not None else [None])]
        return self._checked(labels, fetchers, tally)

    def _checked(
        self, labels: list[str], fetchers: list[Callable[[BinaryIO], Any]], tally: FragmentTally
    ) -> Iterator[tuple[str, tuple[Path, Any]]]:
        """The downloader's results, the last index's 404 weighed against ``results_size``.

        Every earlier fragment is in when the last one's result comes (results come in
        order), so the tally is complete then. A 404 that leaves the bytes short of
        ``results_size`` fetches that index once more; a second 404 fails the window.
        """
        where = tally.where
        for position, item in enumerate(self.downloader.results(fetchers, where)):
            if position < len(labels) - 1 or not tally.last_missing:
                yield labels[position], item
                continue
            if tally.missing_is_the_end():
                yield labels[position], item
                continue
            LOGGER.warning("%s: fetching it again", tally.shortfall())
            tally.last_missing = False
            for again in self.downloader.results(fetchers[-1:], where):
                if tally.last_missing:
                    msg = (
                        f"{tally.shortfall()}, twice; the window is not done (run again "
                        f"later); proof: {tally.proof().describe('results_size')}"
                    )
                    raise UpstreamError(msg)
                yield labels[position], again
        tally.log_mismatch()

    def _fetch_part(
        self,
        part: _Part,
        out: BinaryIO,
        work: FragmentPass,
    ) -> Any:
        params = {} if part.index is None else {"fragment": part.index}
        # measured: whether the fetch to a file below tells what the network takes
        read, measured = self._try_directly(part, params, work)
        if read is not None:
            part.tally.received(part.index, read.size)
            return read
        started = time.perf_counter()
        try:
            response = self.api.request(
                "GET",
                f"{self.jobs_path}/{part.job_id}/data",
                params=params,
                stream=True,
                timeout=part.timeout,
            )
        except NotFoundError:
            if part.may_be_missing:
                # 'fragment' may be a count, not the last index: results_size decides
                part.tally.last_missing = True
                return self._from_file(work, Path(out.name), _label(part.where, part.index))
            where = _label(part.where, part.index)
            msg = f"{where}: data is gone upstream (files are kept 10 days)"
            raise ExportExpiredError(msg) from None
        label = _label(part.where, part.index)
        written = copy_body(response, out, label)
        out.flush()
        part.tally.received(part.index, written)
        # Framed before the result is handed on, so a broken line means "fetch again"
        # before a single record of the part has been emitted.
        downloaded = time.perf_counter()
        prepared = self._from_file(work, Path(out.name), label)
        if measured:
            self._transfers.record(downloaded - started, time.perf_counter() - started)
        return prepared

    def _from_file(self, work: FragmentPass, path: Path, label: str) -> Spool[Any]:
        """``work`` over a fragment downloaded to ``path``, in a worker."""
        return Spool.adopt(*self.workers.run(work, str(path), label))

    def _try_directly(
        self, part: _Part, params: dict[str, Any], work: FragmentPass
    ) -> tuple[BodyRead[Spool[Any]] | None, bool]:
        """The fragment read in a worker, if that is the way now, else None.

        Also whether the fetch to a file that then follows is to be measured: yes when
        it is the way chosen (fragments wait on the network, or every worker is taken
        before anything was measured), no when it is the fallback after an answer that
        was not a clean ``200``, whose retries wait for other reasons than the network.
        Without worker processes there is no worker to tie up: always read directly.
        """
        if self.workers.uses_processes and self._transfers.network_bound is True:
            LOGGER.debug("%s: to a file, as fragments wait on the network", part.where)
            return None, True
        try:
            return self._read_directly(part, params, work), False
        except WorkersBusyError:
            return None, True

    def _read_directly(
        self, part: _Part, params: dict[str, Any], work: FragmentPass
    ) -> BodyRead[Spool[Any]] | None:
        """The fragment read and prepared by ``work`` in a worker, with no file between.

        None when the worker got no clean ``200`` (an error status, a refused
        connection): the regular request then handles it. When every worker process is
        taken, this thread waits for one if the last fragment's pass took most of its
        time (:class:`TransferGauge`); before anything is measured it raises
        :class:`WorkersBusyError` instead, and the fragment goes to a file meanwhile.
        (Once fragments wait mostly on the network, :meth:`_fetch_part` does not come
        here: files let ``download_workers`` fragments transfer at once while the
        workers do the passes.)
        """
        label = _label(part.where, part.index)
        token = self.api.retrying(self._token)
        get = BodyGet(
            url=self.api.url(f"{self.jobs_path}/{part.job_id}/data"),
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=part.timeout,
            what=label,
        )
        # Measured as CPU-bound: wait for a worker. Not measured yet: only a free one.
        wait = self._transfers.network_bound is False
        read = self.workers.run(read_body, get, partial(work, label=label), wait=wait)
        if read is None:
            return None
        self._transfers.record(read.network_seconds, read.seconds)
        return replace(read, result=Spool.adopt(*read.result))


FragmentPass = Callable[..., Handoff[Any]]
"""A worker's pass over one fragment, ``(source, label) -> spool handoff``: the source
is a downloaded file's name or the body as it arrives (:class:`BodyReader`)."""


def _source(source: str | Readable) -> Path | Readable:
    return Path(source) if isinstance(source, str) else source


def frame_fragment(  # noqa: PLR0917 - a worker's task, filled in by functools.partial
    source: str | Readable,
    label: str,
    fields: tuple[str, ...],
    framing: Framing,
    directory: str | None,
    date_times: tuple[tuple[str, ...], ...] = (),
) -> Handoff[BlockMeta]:
    """Worker: a fragment's records, null-filled and framed, in a spool.

    Module-level, so that a worker process can run it; a malformed line raises
    :class:`MalformedPartError`, which fetches the fragment again.
    """
    lines = RecordLines(fields, date_times=date_times).blocks(
        _source(source), where=label, framing=framing, error=MalformedPartError
    )
    return spool_blocks(lines, directory).handoff()


def deflate_fragment(
    source: str | Readable,
    label: str,
    fields: tuple[str, ...],
    directory: str | None,
    date_times: tuple[tuple[str, ...], ...] = (),
) -> Handoff[tuple[int, int, int, FieldTypes | None]]:
    """Worker: :func:`frame_fragment` as JSON Lines, compressed for a gzip batch file."""
    lines = RecordLines(fields, date_times=date_times).blocks(
        _source(source), where=label, framing=LINES, error=MalformedPartError
    )
    return deflate_part(lines, directory).handoff()


def _label(where: str, index: int | None) -> str:
    return where if index is None else f"{where} fragment {index}"


@dataclass(frozen=True)
class _Part:
    """One fragment to fetch (``index`` None: the whole ``/data``)."""

    job_id: str
    index: int | None
    timeout: float
    where: str
    may_be_missing: bool  # the last index, which 404s when 'fragment' is a count (see above)
    tally: FragmentTally


class FragmentTally:
    """Bytes a job's fragments answered, against the job's ``results_size``.

    The document calls ``fragment`` a "count of fragments (0-based)", so the last index
    the tap asks for may not exist (a count) or may hold data (the highest index). A 404
    there is the end of the data only if the fragments before it already hold
    ``results_size`` bytes; short of that, a fragment is lost upstream. What exactly
    ``results_size`` counts is not documented either, so it never fails a job whose
    fragments all answered: a difference is only logged.
    """

    def __init__(self, where: str, results_size: int | None) -> None:
        self.where = where
        self.results_size = results_size
        self.last_missing = False
        """The last index answered 404 (set by its download thread)."""
        self._bytes: dict[int | None, int] = {}
        self._lock = threading.Lock()

    def received(self, index: int | None, size: int) -> None:
        """Fragment ``index`` answered 200 with ``size`` bytes (a re-fetch replaces)."""
        with self._lock:
            self._bytes[index] = size

    @property
    def total(self) -> int:
        """Bytes received so far, each fragment counted once."""
        with self._lock:
            return sum(self._bytes.values())

    def proof(self) -> ByteProof:
        """The bytes so far against ``results_size``, and whether every fragment answered."""
        return ByteProof(self.results_size, self.total, not self.last_missing)

    def missing_is_the_end(self) -> bool:
        """Whether the last index's 404 loses nothing (logged either way it is accepted)."""
        if self.results_size is None:
            LOGGER.warning(
                "%s: the last fragment index answered 404 and the job has no results_size "
                "to check it against; taken as the end of the data ('fragment' as a count)",
                self.where,
            )
            return True
        if self.proof().holds:
            LOGGER.info(
                "%s: the last fragment index answered 404 after %d bytes of results_size "
                "%d: 'fragment' was a count, nothing is missing",
                self.where,
                self.total,
                self.results_size,
            )
            return True
        return False

    def shortfall(self) -> str:
        """The line that says a fragment is missing."""
        return (
            f"{self.where}: its last fragment answered 404 while the fragments before it "
            f"hold {self.total} of the job's results_size {self.results_size} bytes: "
            "a fragment is missing upstream"
        )

    def log_mismatch(self) -> None:
        """Log fragments that all answered but do not add up to ``results_size``."""
        if self.last_missing or self.results_size is None:
            return
        if self.total != self.results_size:
            LOGGER.warning(
                "%s: the fragments hold %d bytes but results_size says %d; kept as complete "
                "(the API document does not say what results_size counts)",
                self.where,
                self.total,
                self.results_size,
            )


def fragment_indices(body: Mapping[str, Any]) -> list[int] | None:
    """Fragment indices to fetch, or None to fetch ``/data`` whole."""
    raw = body.get("fragment", body.get("fragments"))
    if raw is None or isinstance(raw, bool):
        return None
    try:
        highest = int(raw)
    except (TypeError, ValueError):
        return None
    return list(range(max(0, highest) + 1))
