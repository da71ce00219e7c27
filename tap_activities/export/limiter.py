"""When a source's next export job may be created: its queue limit, its 429s, and backoff.

An upstream limits how many jobs a client may have open (People.ai: 10 queued, running
included), so a window's job is created only while the source has room. Beyond that:

- a 429 (or a use-limit answer) on creation means "wait", not "failed": every creation of
  the source pauses for the answer's ``Retry-After`` (at least a poll interval). Jobs the
  upstream never finishes still fill its queue (the API has no way to cancel them), so a
  window refused for ``job_timeout_seconds`` ends the run with a line that says why;
- a creation that fails without a clear answer (5xx, resets, timeouts) is tried again for
  that window alone, with exponential backoff and jitter, for ``max_retry_seconds``; a
  host that never answered, for ``FIRST_CONTACT_SECONDS`` only (a wrong URL, most likely).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from tap_activities.errors import (
    ExportFailedError,
    RateLimitedError,
    TapActivitiesError,
    UnreachableError,
)
from tap_activities.export.request import ExportRequest
from tap_activities.transfer.http import FIRST_CONTACT_SECONDS, retry_delay

LOGGER = logging.getLogger("tap_activities.jobs")


@dataclass
class CreationAttempts:
    """The attempts to get one job created upstream; a new one each time a job is wanted."""

    not_before: float = 0.0  # monotonic time before which no attempt is made
    errors: int = 0  # attempts that failed without a clear answer (5xx, resets, timeouts)
    first_error: float | None = None  # monotonic time of the first of them
    unclear_since: float | None = None  # wall clock of an unanswered create
    limited_since: float | None = None  # when creating it was first refused (429)


class CreationLimiter:
    """The creation limits of one source: room in its queue, its pauses, each window's retries."""

    def __init__(
        self,
        source_name: str,
        *,
        max_outstanding: int,
        poll_interval: float,
        job_timeout: float,
        max_retry_seconds: float,
    ) -> None:
        """Limits for the source named ``source_name`` (the scheduler's settings)."""
        self.source_name = source_name
        self.max_outstanding = max_outstanding
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.max_retry_seconds = max_retry_seconds
        self._paused_until = 0.0  # monotonic time before which no job is created (429)

    def paused(self, now: float) -> bool:
        """Whether the upstream's last 429 still holds every creation back."""
        return now < self._paused_until

    def has_room(self, outstanding: int) -> bool:
        """Whether one more job fits beside the ``outstanding`` ones (created, not done)."""
        return outstanding < self.max_outstanding

    def refused(
        self, attempts: CreationAttempts, request: ExportRequest, exc: RateLimitedError
    ) -> ExportFailedError | None:
        """A 429 on creation: pause every creation, or the error that ends this window.

        The window ends once the upstream has refused its job for ``job_timeout_seconds``:
        the same deadline as a job's, since its queue can stay full for ever.
        """
        now = time.monotonic()
        if attempts.limited_since is None:
            attempts.limited_since = now
        if now - attempts.limited_since > self.job_timeout:
            msg = (
                f"{request.describe()}: the upstream refused new export jobs for "
                f"job_timeout_seconds={self.job_timeout:g} ({exc}); its job queue stays "
                "full, often with jobs that never finish"
            )
            return ExportFailedError(msg)
        wait = exc.retry_after if exc.retry_after is not None else max(0.01, self.poll_interval)
        self._paused_until = time.monotonic() + max(wait, self.poll_interval)
        LOGGER.info(
            "%s: export creation limited by the upstream (%s); waiting %.1fs",
            self.source_name,
            exc,
            wait,
        )
        return None

    def failed(
        self, attempts: CreationAttempts, request: ExportRequest, exc: TapActivitiesError
    ) -> TapActivitiesError | None:
        """An attempt without a clear answer: back off with jitter, or the error that ends it.

        Given up after ``max_retry_seconds`` of such failures (a host that never answered:
        after ``FIRST_CONTACT_SECONDS``, with its own line naming the setting to check).
        """
        now = time.monotonic()
        attempts.errors += 1
        if attempts.first_error is None:
            attempts.first_error = now
        if isinstance(exc, UnreachableError):
            # The host never answered: a wrong URL, most likely. Its own line says which
            # setting to check, and the run ends in seconds (http.FIRST_CONTACT_SECONDS).
            if now - attempts.first_error >= min(FIRST_CONTACT_SECONDS, self.max_retry_seconds):
                return exc
        elif now - attempts.first_error >= self.max_retry_seconds:
            msg = (
                f"{request.describe()}: creating the export kept failing for "
                f"max_retry_seconds={self.max_retry_seconds:g}: {exc}"
            )
            return ExportFailedError(msg)
        delay = retry_delay(attempts.errors, exc)
        attempts.not_before = now + max(delay, self.poll_interval)
        LOGGER.warning(
            "%s: creating export failed, will retry in %.1fs: %s",
            request.describe(),
            attempts.not_before - now,
            exc,
        )
        return None
