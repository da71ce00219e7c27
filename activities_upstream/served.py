"""Bytes a test wants served as they are: hostile fragments and zips.

The local upstream renders its exports from generated data, which is always well formed.
To hold the tap to what a real upstream could send (a byte order mark, a key twice, a
zip bomb), a test gives the exact bytes here; every People.ai export (its fragments) or
ChartMogul export (its zip) made from then on serves them, through the same endpoints,
status fields and file host as rendered ones. Everything else stays as the API documents.
"""

from __future__ import annotations

import threading


class Served:
    """The bytes to serve instead of rendered exports (None: render as usual)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fragments: list[bytes] | None = None
        self._zip: bytes | None = None

    def peopleai_fragments(self, fragments: list[bytes]) -> None:
        """Every People.ai export made from now on holds exactly these fragments."""
        with self._lock:
            self._fragments = list(fragments) or [b""]

    def chartmogul_zip(self, body: bytes) -> None:
        """Every ChartMogul export made from now on is exactly this zip."""
        with self._lock:
            self._zip = body

    def fragments(self) -> list[bytes] | None:
        """The People.ai fragments to serve, if a test gave them."""
        with self._lock:
            return self._fragments

    def zip(self) -> bytes | None:
        """The ChartMogul zip to serve, if a test gave it."""
        with self._lock:
            return self._zip
