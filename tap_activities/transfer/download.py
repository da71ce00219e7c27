"""Parallel, ordered downloads of export parts: to temporary files, or straight into their pass.

An export arrives in parts (People.ai's fragments; ChartMogul's one zip is a single part).
Parts are fetched by a small thread pool
a few ahead of the part being parsed, each straight to a temporary file on disk, so memory
does not grow with the export and the parser never waits for the network when the network
is faster than parsing. Parts come back in their upstream order, so records leave in a
stable order. A part cut short, or one its fetcher finds broken (a bad JSON line, a bad
zip CRC), is fetched again a bounded number of times, never emitted half; each file is
deleted once consumed.

A part whose whole pass can run where it is downloaded (a People.ai fragment: validated,
framed, spooled) skips the file: :func:`read_body` sends the GET in the worker and
feeds the body to the pass as it arrives, which saves writing and reading back every
byte of the export. Only a clean ``200`` is read that way; any other answer, or a
connection that fails before one, goes the regular way, whose retries, token renewal and
error mapping then decide.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

import requests
import urllib3

from tap_activities.errors import CorruptDownloadError, TransientError
from tap_activities.transfer.http import CONNECT_TIMEOUT, bare_session

LOGGER = logging.getLogger("tap_activities.download")
CHUNK_BYTES = 1 << 20

PartFetcher = Callable[[BinaryIO], Any]
"""Writes one part into the open file; what it returns comes back with the file
(:meth:`PartDownloader.results`), e.g. the number of bytes written, or the part
already prepared for output in the worker. A fetcher that read the part without the
file returns a :class:`BodyRead` (its ``result`` comes back with the empty file)."""

T = TypeVar("T")


@dataclass(frozen=True)
class BodyGet:
    """A GET that a worker sends itself, reading the body as it arrives.

    Picklable, so it can travel to a worker process. Its headers carry the credentials
    of the API host the URL is on; they are left out of its repr and of every message.
    """

    url: str
    params: dict[str, Any]
    headers: dict[str, str] = field(repr=False)
    timeout: float
    what: str
    """What the part is, for messages (never the URL's query or the headers)."""


@dataclass(frozen=True)
class BodyRead(Generic[T]):
    """What :func:`read_body` made of a body, and how long it waited for it."""

    size: int
    """Bytes of the body."""
    network_seconds: float
    """Time spent waiting for the answer and reading its bytes."""
    seconds: float
    """Time from sending the request to the end of the work."""
    result: T


class TransferGauge:
    """Tells, from the last part fetched, whether downloads wait on the network.

    A worker that reads a part straight from its connection is taken for the whole
    transfer. That pays while the pass over the bytes takes the time (a fast upstream):
    no file is written and read back. When most of the time goes to waiting for bytes
    (an upstream that serves each connection only so fast), the download threads should
    fetch to files instead, ``download_workers`` at once, leaving the workers to the
    passes. Every part fetched either way is measured, so the choice follows the run.
    """

    NETWORK_SHARE = 0.5

    def __init__(self) -> None:
        self.network_bound: bool | None = None
        """Whether the last part fetched waited on the network for most of its time
        (None: nothing measured yet)."""

    def record(self, network_seconds: float, seconds: float) -> None:
        """Learn from one part: time spent on the network, and in all."""
        self.network_bound = network_seconds > self.NETWORK_SHARE * seconds


class BodyReader:
    """A streamed response body, read in pieces, that notices when it is cut short."""

    def __init__(self, response: requests.Response, what: str) -> None:
        self._raw = response.raw
        self._expected = expected_length(response)
        self._what = what
        self.size = 0
        self.seconds = 0.0
        """Time spent inside :meth:`read`, mostly waiting for bytes."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes of the body; ``b""`` at its end, once it is all there."""
        started = time.perf_counter()
        try:
            data = self._raw.read(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            msg = f"{self._what}: download cut short after {self.size} bytes ({type(exc).__name__})"
            raise CorruptDownloadError(msg) from None
        finally:
            self.seconds += time.perf_counter() - started
        self.size += len(data)
        if not data and self._expected is not None and self._expected != self.size:
            msg = f"{self._what}: got {self.size} of {self._expected} bytes"
            raise CorruptDownloadError(msg)
        return data


_SESSIONS = threading.local()


def read_body(get: BodyGet, work: Callable[[BodyReader], T]) -> BodyRead[T] | None:
    """``work(body)`` for a GET answered ``200``, with the body's size and timings.

    None for any other outcome.

    Runs in a worker (process or thread), which keeps one session of its own so that
    connections are reused. A failed connection or a status other than 200 returns None
    before anything is read: the caller then sends the request the regular way, where
    the retry policy, token renewal and error messages live. A body cut short raises
    :class:`CorruptDownloadError` from inside ``work``, which must then drop what it made.
    """
    session = getattr(_SESSIONS, "session", None)
    if session is None:
        session = _SESSIONS.session = bare_session()
    started = time.perf_counter()
    try:
        response = session.get(
            get.url,
            params=get.params,
            headers=get.headers,
            timeout=(CONNECT_TIMEOUT, get.timeout),
            stream=True,
            allow_redirects=False,
        )
    except (requests.ConnectionError, requests.Timeout):
        return None
    with contextlib.closing(response):
        if response.status_code != 200:
            return None
        answered = time.perf_counter()
        body = BodyReader(response, get.what)
        result = work(body)
        ended = time.perf_counter()
    return BodyRead(body.size, answered - started + body.seconds, ended - started, result)


def expected_length(response: requests.Response) -> int | None:
    """The body's length once decoded, if the headers tell it.

    ``Content-Length`` counts the bytes on the wire: for a compressed body
    (``Content-Encoding: gzip``) it says nothing of the decoded length; urllib3 still
    checks the wire bytes against it and raises on a body cut short.
    """
    expected = response.headers.get("Content-Length")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if expected is None or not expected.isdigit() or encoding not in {"", "identity"}:
        return None
    return int(expected)


def copy_body(response: requests.Response, out: BinaryIO, what: str) -> int:
    """Stream a response body into ``out``; raise CorruptDownloadError on a short read."""
    expected = expected_length(response)
    written = 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            out.write(chunk)
            written += len(chunk)
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
        msg = f"{what}: download cut short after {written} bytes ({type(exc).__name__})"
        raise CorruptDownloadError(msg) from None
    except requests.Timeout:
        msg = f"{what}: download timed out after {written} bytes"
        raise CorruptDownloadError(msg) from None
    finally:
        response.close()
    if expected is not None and expected != written:
        msg = f"{what}: got {written} of {expected} bytes"
        raise CorruptDownloadError(msg)
    return written


class PartDownloader:
    """Fetches parts in parallel and hands their files back in order."""

    def __init__(self, *, workers: int, attempts: int = 3, directory: Path | None = None) -> None:
        """Configure the pool.

        Args:
            workers: Parts fetched at the same time.
            attempts: Tries per part before a short or broken download is fatal.
            directory: Where temporary files go (default: the system's temp dir).
        """
        self.workers = max(1, workers)
        self.attempts = max(1, attempts)
        self.directory = directory

    def results(self, fetchers: Sequence[PartFetcher], what: str) -> Iterator[tuple[Path, Any]]:
        """Yield one temporary file per part, in order, with what its fetcher returned.

        Each file is deleted after use.
        """
        if not fetchers:
            return
        ahead = self.workers + 1
        pending: deque[Future[tuple[Path, Any]]] = deque()
        next_index = 0
        with ThreadPoolExecutor(self.workers, thread_name_prefix="download") as pool:
            try:
                while next_index < len(fetchers) and len(pending) < ahead:
                    pending.append(pool.submit(self._fetch, fetchers[next_index], next_index, what))
                    next_index += 1
                while pending:
                    path, result = pending.popleft().result()
                    if next_index < len(fetchers):
                        pending.append(
                            pool.submit(self._fetch, fetchers[next_index], next_index, what)
                        )
                        next_index += 1
                    try:
                        yield path, result
                    finally:
                        path.unlink(missing_ok=True)
            finally:
                for future in pending:
                    future.cancel()
                for future in pending:
                    if not future.cancelled():
                        with contextlib.suppress(Exception):  # cleanup of a failed part
                            future.result()[0].unlink(missing_ok=True)

    def _fetch(self, fetcher: PartFetcher, index: int, what: str) -> tuple[Path, Any]:
        handle, name = tempfile.mkstemp(
            prefix="tap-activities-", suffix=".part", dir=self.directory
        )
        os.close(handle)
        path = Path(name)
        try:
            with path.open("wb") as out:
                for attempt in range(1, self.attempts + 1):
                    try:
                        result = fetcher(out)
                        size = out.tell()
                        if isinstance(result, BodyRead):
                            size, result = result.size, result.result
                        LOGGER.info("%s: part %d downloaded (%.1f MB)", what, index + 1, size / 1e6)
                        return path, result
                    except (CorruptDownloadError, TransientError) as exc:
                        if attempt == self.attempts:
                            msg = f"{exc} (fetched {attempt} times)"
                            raise type(exc)(msg) from None
                        LOGGER.warning("%s part %d: %s; fetching it again", what, index, exc)
                        out.seek(0)
                        out.truncate()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, None  # pragma: no cover - the loop always returns or raises
