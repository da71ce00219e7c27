"""Switchable faults, so tests can make the upstream misbehave on purpose.

Each fault counts down and is thread-safe. Endpoint names: ``peopleai.token``,
``peopleai.create``, ``peopleai.status``, ``peopleai.list``, ``peopleai.data``,
``chartmogul.create``, ``chartmogul.status``, ``files.get``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class HttpFault:
    """Answer ``status`` (with an optional Retry-After) instead of the real response."""

    status: int
    retry_after: float | None = None


class Faults:
    """The switchboard."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: dict[str, list[HttpFault]] = {}
        self._counters: dict[str, int] = {}
        self._slow: dict[str, tuple[float, int]] = {}
        self.expire_files_early = False

    # Switching on -------------------------------------------------------------------------

    def http_error(
        self, endpoint: str, status: int, times: int = 1, retry_after: float | None = None
    ) -> None:
        """The next ``times`` calls of ``endpoint`` answer ``status``."""
        with self._lock:
            self._http.setdefault(endpoint, []).extend([HttpFault(status, retry_after)] * times)

    def _add(self, name: str, times: int) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + times

    def reset_connection(self, endpoint: str, times: int = 1) -> None:
        """Close the socket without an answer on the next calls of ``endpoint``."""
        self._add(f"reset:{endpoint}", times)

    def slow(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Sleep before answering the next calls of ``endpoint``."""
        with self._lock:
            self._slow[endpoint] = (seconds, times)

    def truncate_download(self, times: int = 1) -> None:
        """Next People.ai fragments / ChartMogul files send fewer bytes than Content-Length."""
        self._add("truncate", times)

    def corrupt_json_line(self, times: int = 1) -> None:
        """Next People.ai fragments carry one broken JSON line."""
        self._add("corrupt_json", times)

    def bad_zip_crc(self, times: int = 1) -> None:
        """Next ChartMogul zips have a flipped byte in the compressed data."""
        self._add("bad_crc", times)

    def fail_jobs(self, times: int = 1, state: str = "Failed") -> None:
        """Next People.ai jobs end ``Failed`` (or ``Canceled``)."""
        self._add(f"job_end:{state}", times)

    def stall_jobs(self, times: int = 1) -> None:
        """Next People.ai jobs never complete."""
        self._add("job_stall", times)

    def fail_exports(self, times: int = 1) -> None:
        """Next ChartMogul exports end ``failed``."""
        self._add("export_fail", times)

    def lose_create_response(self, endpoint: str = "peopleai.create", times: int = 1) -> None:
        """Create the job, then drop the connection before answering."""
        self._add(f"lose:{endpoint}", times)

    # Consuming -----------------------------------------------------------------------------

    def take(self, name: str) -> bool:
        """Consume one count of a counted fault; True if it fired."""
        with self._lock:
            left = self._counters.get(name, 0)
            if left <= 0:
                return False
            self._counters[name] = left - 1
            return True

    def take_http(self, endpoint: str) -> HttpFault | None:
        """Consume the next HTTP fault of an endpoint, if any."""
        with self._lock:
            queue = self._http.get(endpoint)
            return queue.pop(0) if queue else None

    def take_slow(self, endpoint: str) -> float:
        """Seconds to sleep before answering, 0 if none."""
        with self._lock:
            seconds, times = self._slow.get(endpoint, (0.0, 0))
            if times <= 0:
                return 0.0
            self._slow[endpoint] = (seconds, times - 1)
            return seconds

    def job_end_state(self) -> str | None:
        """How the next job ends, if a fault says so (None: normally)."""
        for state in ("Failed", "Canceled"):
            if self.take(f"job_end:{state}"):
                return state
        if self.take("job_stall"):
            return "stall"
        return None
