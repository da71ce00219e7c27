"""Switchable faults, so tests can make the upstream misbehave on purpose.

Each fault counts down and is thread-safe. Endpoint names: ``peopleai.token``,
``peopleai.create``, ``peopleai.status``, ``peopleai.list``, ``peopleai.data``,
``chartmogul.create``, ``chartmogul.status``, ``files.get``. Faults that decide how a job
ends can be limited to jobs of one window (``start_date``), so a test can fail a later
window while earlier ones succeed.

Every fault armed is remembered, and every time one fires is counted, so a test can
check that the fault it armed really happened (:meth:`Faults.unfired`): a fault that
never fires proves nothing about the tap.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class HttpFault:
    """Answer ``status`` (with an optional Retry-After) instead of the real response."""

    status: int
    retry_after: float | None = None


@dataclass
class Hold:
    """A call held at the door until the test releases it (to kill a client mid-call)."""

    skip: int
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class Faults:
    """The switchboard."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: dict[str, list[HttpFault]] = {}
        self._counters: dict[str, int] = {}
        self._slow: dict[str, tuple[float, int]] = {}
        self._holds: dict[str, Hold] = {}
        self._armed: list[str] = []
        self.fired: Counter[str] = Counter()
        """How often each fault fired, by name (``http:<endpoint>``, ``slow:<endpoint>``,
        ``hold:<endpoint>`` or a counted fault's name)."""
        self.expire_files_early = False
        """Every file download answers 403 while set (see :meth:`expire_files`)."""

    def unfired(self) -> list[str]:
        """The faults armed so far that never fired, in the order armed."""
        with self._lock:
            return [name for name in dict.fromkeys(self._armed) if not self.fired[name]]

    def _fire(self, name: str) -> None:
        self.fired[name] += 1  # under self._lock

    # Switching on -------------------------------------------------------------------------

    def http_error(
        self, endpoint: str, status: int, times: int = 1, retry_after: float | None = None
    ) -> None:
        """The next ``times`` calls of ``endpoint`` answer ``status``."""
        with self._lock:
            self._http.setdefault(endpoint, []).extend([HttpFault(status, retry_after)] * times)
            self._armed.append(f"http:{endpoint}")

    def _add(self, name: str, times: int) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + times
            self._armed.append(name)

    def reset_connection(self, endpoint: str, times: int = 1) -> None:
        """Close the socket without an answer on the next calls of ``endpoint``."""
        self._add(f"reset:{endpoint}", times)

    def slow(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Sleep before answering the next calls of ``endpoint``."""
        with self._lock:
            self._slow[endpoint] = (seconds, times)
            self._armed.append(f"slow:{endpoint}")

    def hold(self, endpoint: str, skip: int = 0) -> Hold:
        """Let ``skip`` calls of ``endpoint`` through, then hold the next one until released."""
        hold = Hold(skip)
        with self._lock:
            self._holds[endpoint] = hold
            self._armed.append(f"hold:{endpoint}")
        return hold

    def truncate_download(self, times: int = 1) -> None:
        """Next People.ai fragments / ChartMogul files send fewer bytes than Content-Length."""
        self._add("truncate", times)

    def corrupt_json_line(self, times: int = 1) -> None:
        """Next People.ai fragments carry one broken JSON line."""
        self._add("corrupt_json", times)

    def bad_zip_crc(self, times: int = 1) -> None:
        """Next ChartMogul zips have a flipped byte in the compressed data."""
        self._add("bad_crc", times)

    def fail_jobs(self, times: int = 1, state: str = "Failed", start_date: str = "") -> None:
        """Next People.ai jobs (of the window starting ``start_date``) end ``state``."""
        self._add(f"job_end:{state}:{start_date}", times)

    def stall_jobs(self, times: int = 1, start_date: str = "") -> None:
        """Next People.ai jobs (of the window starting ``start_date``) never complete."""
        self._add(f"job_stall:{start_date}", times)

    def fail_exports(self, times: int = 1, start_date: str = "") -> None:
        """Next ChartMogul exports (of the window starting ``start_date``) end ``failed``."""
        self._add(f"export_fail:{start_date}", times)

    def stall_exports(self, times: int = 1) -> None:
        """Next ChartMogul exports stay ``processing`` for ever."""
        self._add("export_stall", times)

    def expire_files(self, times: int = 1) -> None:
        """Next file downloads answer 403 "Request has expired" (a URL expiring early)."""
        self._add("expire_file", times)

    def expired_urls(self, times: int = 1) -> None:
        """Next succeeded ChartMogul exports carry an ``expires_at`` already past."""
        self._add("expired_url", times)

    def bad_csv_row(self, times: int = 1) -> None:
        """Next ChartMogul zips hold a CSV row with one field too many."""
        self._add("bad_csv_row", times)

    def lose_create_response(self, endpoint: str = "peopleai.create", times: int = 1) -> None:
        """Create the job (``peopleai.create``/``chartmogul.create``), then drop the connection."""
        self._add(f"lose:{endpoint}", times)

    # Consuming -----------------------------------------------------------------------------

    def take(self, name: str) -> bool:
        """Consume one count of a counted fault; True if it fired."""
        with self._lock:
            left = self._counters.get(name, 0)
            if left <= 0:
                return False
            self._counters[name] = left - 1
            self._fire(name)
            return True

    def take_http(self, endpoint: str) -> HttpFault | None:
        """Consume the next HTTP fault of an endpoint, if any."""
        with self._lock:
            queue = self._http.get(endpoint)
            if not queue:
                return None
            self._fire(f"http:{endpoint}")
            return queue.pop(0)

    def take_hold(self, endpoint: str) -> Hold | None:
        """The hold that applies to this call of ``endpoint``, if any (consumed)."""
        with self._lock:
            hold = self._holds.get(endpoint)
            if hold is None:
                return None
            if hold.skip > 0:
                hold.skip -= 1
                return None
            del self._holds[endpoint]
            self._fire(f"hold:{endpoint}")
            return hold

    def take_slow(self, endpoint: str) -> float:
        """Seconds to sleep before answering, 0 if none."""
        with self._lock:
            seconds, times = self._slow.get(endpoint, (0.0, 0))
            if times <= 0:
                return 0.0
            self._slow[endpoint] = (seconds, times - 1)
            self._fire(f"slow:{endpoint}")
            return seconds

    def take_for(self, name: str, start_date: str) -> bool:
        """Consume a fault limited to ``start_date``'s window, or else an unlimited one."""
        return self.take(f"{name}:{start_date}") or self.take(f"{name}:")

    def job_end_state(self, start_date: str = "") -> str | None:
        """How the next job ends, if a fault says so (None: normally)."""
        for state in ("Failed", "Canceled"):
            if self.take_for(f"job_end:{state}", start_date):
                return state
        if self.take_for("job_stall", start_date):
            return "stall"
        return None
