"""Fast Singer output: orjson serialisation into one buffer, flushed at STATE messages.

singer-sdk's writers serialise each message through ``dataclasses.asdict`` and flush
stdout after every message; at export volumes that, not the network, is the bottleneck.
Here every message still goes through one writer, in order, but bytes are buffered and
flushed when a STATE message is written (and at exit), which is the only point where a
target acts on what it has received. Streams that need no SDK transformation hand their
records over as plain dicts, serialised straight into the RECORD line.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import stat
import sys
from typing import Any, BinaryIO

import orjson
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, StateMessage

from tap_activities.lifecycle import target_gone
from tap_activities.records.framing import Framing, dumps_exact

FLUSH_BYTES = 1 << 20


def default_json(value: Any) -> Any:
    """Serialise what orjson does not know natively (Decimal, sets) the SDK's way."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


class BufferedSingerWriter(GenericSingerWriter[bytes, Message]):
    """One ordered, buffered byte stream of Singer messages on stdout."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out = out
        self._buffer = bytearray()
        atexit.register(self.flush)
        if out is None:
            widen_pipe(sys.stdout)

    @property
    def out(self) -> BinaryIO:
        """Standard output's byte stream (looked up late, so tests can capture it)."""
        return self._out or sys.stdout.buffer

    def serialize_message(self, message: Message) -> bytes:
        """One JSON line for a message."""
        return dumps_exact(message.to_dict(), default_json) + b"\n"

    def write_message(self, message: Message) -> None:
        """Buffer a message; STATE messages flush everything before and including them."""
        self._buffer += self.serialize_message(message)
        if isinstance(message, StateMessage) or len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def write_record(self, prefix: bytes, record: dict[str, Any], suffix: bytes) -> None:
        """Buffer a RECORD line from its pre-built envelope and the record itself."""
        buffer = self._buffer
        buffer += prefix
        buffer += dumps_exact(record, default_json)
        buffer += suffix
        if len(buffer) >= FLUSH_BYTES:
            self.flush()

    def write_bytes(self, data: bytes) -> None:
        """Buffer whole, already serialised messages (lines); large ones go out at once."""
        buffer = self._buffer
        if not buffer and len(data) >= FLUSH_BYTES:
            self._send(data)
            return
        buffer += data
        if len(buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write out whatever is buffered."""
        if self._buffer:
            self._send(self._buffer)
            self._buffer.clear()

    def _send(self, data: bytes | bytearray) -> None:
        """Write to stdout now; a closed stdout (the target died) ends the tap in one line."""
        try:
            if self._out is None:
                sys.stdout.flush()  # keep order with anything written through the text layer
            self.out.write(data)
            self.out.flush()
        except BrokenPipeError:
            # Here, not in the CLI: click turns the error into a bare exit, and the exit
            # would flush into the dead pipe once more, with a traceback.
            target_gone()


def record_envelope(stream: str, extracted_at: dt.datetime) -> tuple[bytes, bytes]:
    """The bytes before and after the record in a RECORD line of ``stream``."""
    prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'
    suffix = b',"time_extracted":' + orjson.dumps(extracted_at.isoformat()) + b"}\n"
    return prefix, suffix


class RecordEnvelope:
    """The bytes around a record in the RECORD messages of the window being emitted.

    A window's records carry the moment its emission began as ``time_extracted``: the
    stream stamps each window as it starts (:meth:`stamp`). Its fast path frames blocks
    with the framing that returns; the SDK's record path, which hands records over one
    at a time, writes each between :attr:`prefix` and :attr:`suffix`.
    """

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.prefix, self.suffix = record_envelope(stream, _now())

    def stamp(self) -> Framing:
        """A window starts now: its RECORD messages' envelope, as the framing of a block."""
        self.prefix, self.suffix = record_envelope(self.stream, _now())
        return Framing(self.prefix, self.suffix + self.prefix, self.suffix)


def _now() -> dt.datetime:
    """The time a window's records are extracted (``time_extracted``), in UTC."""
    return dt.datetime.now(dt.timezone.utc)


F_SETPIPE_SZ = 1031  # Linux fcntl
PIPE_BYTES = 1 << 20


def widen_pipe(stream: Any) -> None:
    """Give a pipe on ``stream`` a 1 MiB buffer instead of 64 KiB (Linux; best effort).

    A tap writes hundreds of MB into a pipe to its target; with the default buffer each
    megabyte costs sixteen wake-ups of both processes.
    """
    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        import fcntl

        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, ValueError, AttributeError, ImportError):
        pass  # not a pipe, not Linux, or above the system's limit: the default is fine
