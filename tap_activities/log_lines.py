"""The tap's last words (``tap-activities: error: …``) in the form its log reader expects.

In a terminal the error is one readable line on stderr. Under meltano, whose
``structured-logging`` capability makes the SDK log JSON objects (meltano hands the tap a
``SINGER_SDK_LOG_CONFIG`` with ``singer_sdk.logging.StructuredFormatter``), a plain line is
not parsed and meltano files it at info level, so a reader who filters for errors misses
the cause. Here the line is formatted by whatever formatter the SDK's logging set-up put
on the root logger: the structured one gives a JSON object with ``"level": "error"``,
which meltano logs at error level; anything else gives the plain line.

Formatting happens here and the caller writes the text itself, because the signal handler
that reports a stop must not take the logging module's locks.
"""

from __future__ import annotations

import logging

from singer_sdk.logging import StructuredFormatter

LOGGER_NAME = "tap-activities"
"""The name the tap's own log records carry (the SDK's ``Tap.logger``)."""


def structured_formatter() -> StructuredFormatter | None:
    """The SDK's JSON formatter when the root logger writes through one, else None."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, StructuredFormatter):
            return handler.formatter
    return None


def rendered(line: str, level: int = logging.ERROR) -> str:
    """``line`` as the tap's log shows a record of ``level``: JSON for meltano, else as is.

    The line is already redacted by its caller; no log-record factory runs here.
    """
    formatter = structured_formatter()
    if formatter is None:
        return line
    record = logging.makeLogRecord(
        {
            "name": LOGGER_NAME,
            "msg": line,
            "levelno": level,
            "levelname": logging.getLevelName(level),
        }
    )
    return formatter.format(record)
