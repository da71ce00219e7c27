"""Streaming JSON Lines parsing with line numbers in every error.

A downloaded part is checked line by line before any of its records is emitted
(:func:`check_json_lines`, run in the download worker), because a broken line usually
means a damaged transfer: the part is fetched again instead of being emitted half.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tap_activities.errors import DataFormatError, MalformedPartError


def iter_json_lines(
    path: Path, *, where: str, error: type[DataFormatError] = DataFormatError
) -> Iterator[dict[str, Any]]:
    """Yield one dict per line of a JSONL file, reading it line by line.

    Args:
        path: The file, as downloaded.
        where: What the file is (stream, window, part) for error messages.
        error: The error class raised for a malformed line.

    Raises:
        DataFormatError: A line is not a JSON object; the message gives its line number.
    """
    loads = orjson.loads
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            try:
                record = loads(line)
            except orjson.JSONDecodeError as exc:
                if not line.strip():
                    continue
                msg = f"{where}: line {number} is not valid JSON ({exc.args[0][:80]})"
                raise error(msg) from None
            if type(record) is not dict:
                msg = f"{where}: line {number} is a JSON {type(record).__name__}, not an object"
                raise error(msg)
            yield record


def check_json_lines(path: Path, *, where: str) -> None:
    """Parse a whole part once; raise :class:`MalformedPartError` (retryable) at a bad line."""
    for _ in iter_json_lines(path, where=where, error=MalformedPartError):
        pass
