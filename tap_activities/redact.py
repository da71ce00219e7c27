"""Keep secrets out of every log line, whoever writes it.

The tap's own messages never carry credentials, but libraries do: at debug level urllib3
logs every request line, and the query string of a pre-signed ChartMogul ``file_url`` *is*
a credential (``X-Amz-Signature``). Rather than trusting every library, one log-record
factory rewrites each record as it is created: known secret values (client id and secret,
API key, issued tokens) become ``[redacted]`` and so does any URL query string. The same
function cleans the one-line error the CLI prints.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Any

REDACTED = "[redacted]"
_QUERY = re.compile(r"\?[\w.~%-]+=[^\s\"'<>]*")
_MIN_SECRET = 4  # shorter values would blank out ordinary words


class SecretRedactor:
    """Knows the secret values of this run and removes them from text."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        """Remember secret values (and their HTTP Basic form) to redact from now on."""
        found = set(self._secrets)
        for value in values:
            if value and len(value) >= _MIN_SECRET:
                found.add(value)
                found.add(base64.b64encode(f"{value}:".encode()).decode())
        with self._lock:
            # Longest first, so a secret containing another is removed whole.
            self._secrets = tuple(sorted(found, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` without known secrets and without URL query strings."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "?" in text:
            text = _QUERY.sub(f"?{REDACTED}", text)
        return text


REDACTOR = SecretRedactor()
_installed = False


def install() -> None:
    """Route every log record created from now on through :data:`REDACTOR` (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide hook
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not break the sync
            return record
        record.msg, record.args = REDACTOR.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = REDACTOR.redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
