"""The local upstream in a process of its own, for the benchmark.

Inside the benchmark's process, the upstream's server threads shared one GIL with the
counting sink and the memory sampler, and every case was charged for it: at 1,000,000
People.ai records in BATCH mode the tap took 2.5-2.7 s there against 2.2-2.3 s with the
same upstream in its own process (2026-11-24). A real upstream is another machine; here it
still runs on the same two cores, so its CPU time still competes with the tap's, but no
longer inside the measuring process.

The process is driven over a pipe by a few commands: generate data before timing, write
the records of an export to a file (the stock tap's and the raw loop's input), and slow
an endpoint down.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from activities_upstream import LocalUpstream, UpstreamConfig

START_SECONDS = 600.0
"""How long to wait for the upstream process to generate its data and answer."""


class UpstreamProcess:
    """A :class:`LocalUpstream` running in a spawned process; its URLs and credentials here."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.peopleai_url = self.chartmogul_url = self.files_url = ""
        self.peopleai_client_id = self.peopleai_client_secret = self.chartmogul_api_key = ""

    def __enter__(self) -> UpstreamProcess:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(self.config, child), name="local-upstream", daemon=True
        )
        self._process.start()
        child.close()
        for name, value in self._answer().items():
            setattr(self, name, value)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.send(None)
            self._conn.close()
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()

    def write_peopleai_records(self, activity_type: str, day: dt.date, path: Path) -> int:
        """Write the records of an export of ``day`` to ``path`` as JSON Lines; their number."""
        return self._call("write_peopleai_records", activity_type, day, str(path))

    def generate(self, source: str, activity_type: str, start: dt.date, end: dt.date) -> int:
        """Generate (and keep) a source's records of a range before anything is timed."""
        return self._call("generate", source, activity_type, start, end)

    def slow(self, endpoint: str, seconds: float, times: int) -> None:
        """Answer the next ``times`` calls of ``endpoint`` ``seconds`` late."""
        self._call("slow", endpoint, seconds, times)

    def _call(self, command: str, *args: Any) -> Any:
        assert self._conn is not None, "use UpstreamProcess as a context manager"
        self._conn.send((command, args))
        return self._answer()

    def _answer(self) -> Any:
        assert self._conn is not None
        if not self._conn.poll(START_SECONDS):
            raise RuntimeError("the local upstream process did not answer")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"local upstream process: {value}")
        return value


def _serve(config: UpstreamConfig, conn: Connection) -> None:
    """In the upstream process: serve, and carry out commands until told to stop."""
    with LocalUpstream(config) as up:
        conn.send(
            (
                True,
                {
                    "peopleai_url": up.peopleai_url,
                    "chartmogul_url": up.chartmogul_url,
                    "files_url": up.files_url,
                    "peopleai_client_id": up.peopleai_client_id,
                    "peopleai_client_secret": up.peopleai_client_secret,
                    "chartmogul_api_key": up.chartmogul_api_key,
                },
            )
        )
        while (message := conn.recv()) is not None:
            command, args = message
            try:
                conn.send((True, _COMMANDS[command](up, *args)))
            except Exception as error:  # reported to the benchmark, which stops
                conn.send((False, f"{command}: {error!r}"))


def _write_peopleai_records(up: LocalUpstream, activity_type: str, day: dt.date, path: str) -> int:
    records = up.peopleai.records(activity_type, day, day)
    with open(path, "wb") as out:
        for record in records:
            out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    return len(records)


def _generate(
    up: LocalUpstream, source: str, activity_type: str, start: dt.date, end: dt.date
) -> int:
    view = up.peopleai.records if source == "peopleai" else up.chartmogul.rows
    return len(view(activity_type, start, end))


def _slow(up: LocalUpstream, endpoint: str, seconds: float, times: int) -> None:
    up.faults.slow(endpoint, seconds, times=times)


_COMMANDS = {
    "write_peopleai_records": _write_peopleai_records,
    "generate": _generate,
    "slow": _slow,
}
