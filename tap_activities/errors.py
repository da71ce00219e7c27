"""Errors a user can meet, each rendered as one clear line.

Every failure the tap reports on purpose derives from :class:`TapActivitiesError`. The CLI
entry point turns these into a single log line and a non-zero exit instead of a traceback,
because a nightly job's log is read by someone who needs to know *what to do*, not where in
the code it happened.
"""

from __future__ import annotations


class TapActivitiesError(Exception):
    """Base for every error the tap reports to the user as a single line."""

    def __str__(self) -> str:
        """Collapse the message to one line so it survives log shippers intact."""
        return " ".join(super().__str__().split())


class ConfigError(TapActivitiesError):
    """A setting is missing or invalid; the message names the setting."""


class UpstreamError(TapActivitiesError):
    """The upstream API answered in a way the tap cannot recover from."""


class AuthError(UpstreamError):
    """The upstream refused the credentials (401/403)."""


class RateLimitedError(UpstreamError):
    """The upstream asked us to slow down (429 or a documented use-limit error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(UpstreamError):
    """A failure that may succeed on retry: 5xx, reset connection, timeout."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnreachableError(TransientError):
    """The API host has not answered once this run (refused, unknown, TLS, no connect).

    Retried only for a short while (``http.FIRST_CONTACT_SECONDS``): a wrong URL setting
    should fail in seconds, not after ``max_retry_seconds``. Once a host has answered,
    its connection failures are ordinary :class:`TransientError`.
    """


class NotFoundError(UpstreamError):
    """The upstream no longer knows an object (an expired job, a forgotten export)."""


class ExportFailedError(UpstreamError):
    """An export job ended Failed/Canceled upstream or missed its deadline."""


class CorruptDownloadError(UpstreamError):
    """A download was cut short or does not parse; fetching it again may help."""


class DataFormatError(UpstreamError):
    """A record in an export is malformed; the message names stream, window and line."""


class UnsafeArchiveError(DataFormatError):
    """A zip entry has an unsafe path or an absurd compression ratio: refused, not retried."""


class ExportExpiredError(UpstreamError):
    """A finished export's file is gone or its URL expired; the export must be made again."""


class MalformedPartError(CorruptDownloadError, DataFormatError):
    """A downloaded part has a line that does not parse: fetch it again, then give up.

    It is a :class:`CorruptDownloadError` so the downloader fetches the part again (a
    damaged transfer is the likely cause), and a :class:`DataFormatError` once the
    attempts are used up (the data itself is malformed).
    """
