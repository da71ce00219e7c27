"""The slow way through one JSON line: decoded exactly, or refused with its line number.

Lines the fast passes leave aside (and every line of the SDK's record path) come here. The
wording of every refusal lives here too, so both passes refuse a line in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from tap_activities.errors import DataFormatError
from tap_activities.records.contract import DateTimeError
from tap_activities.sources.peopleai.lines.scan import BOM, MAX_DEPTH, too_deep


def date_time_error(where: str, number: int, exc: DateTimeError) -> DataFormatError:
    """A date-time field without a date-time, as one line: not retried, data is lost else."""
    return DataFormatError(f"{where}: line {number} {exc.describe()}")


def decode_line(
    line: bytes, number: int, where: str, error: type[DataFormatError]
) -> dict[str, Any] | None:
    """One line as a dict (None if blank), or an error naming its line number.

    orjson's verdict on the JSON, raised as ``error`` (a damaged transfer is the likely
    cause), after the rules on what valid JSON the tap still refuses, raised as
    :class:`DataFormatError` (fetching the line again cannot change it).
    """
    if line.startswith(BOM):
        msg = (
            f"{where}: line {number} starts with a byte order mark (U+FEFF), which JSON Lines "
            "allows only at the start of a file"
        )
        raise DataFormatError(msg)
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if not line.strip():
            return None
        if too_deep(line):
            raise depth_error(where, number) from None
        msg = f"{where}: line {number} is not valid JSON ({exc.args[0][:80]})"
        raise error(msg) from None
    if type(record) is not dict:
        msg = f"{where}: line {number} is a JSON {type(record).__name__}, not an object"
        raise error(msg)
    if too_deep(line):
        raise depth_error(where, number)
    return record


class _Decoded(dict):  # type: ignore[type-arg]
    """A decoded JSON object that remembers the keys it held more than once."""

    twice: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> _Decoded:
    decoded = _Decoded(pairs)
    if len(decoded) != len(pairs):
        seen: set[str] = set()
        decoded.twice = tuple(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    return decoded


def decode_exact(
    line: bytes, number: int, where: str, error: type[DataFormatError]
) -> dict[str, Any] | None:
    """:func:`decode_line`, decoded again so that nothing is lost on the way out.

    orjson reads an integer wider than 64 bits as a float (a changed value) and keeps the
    last of two equal keys (a silent choice); the standard library's decoder keeps such
    integers exactly and lets :func:`refuse_twice` see the keys twice. Only lines the
    fast passes leave to the slow way (and the SDK's record path) come here.
    """
    if decode_line(line, number, where, error) is None:
        return None
    try:
        return json.loads(line, object_pairs_hook=_pairs)  # type: ignore[no-any-return]
    except (ValueError, RecursionError) as exc:  # orjson took it: not seen, but never raw
        msg = f"{where}: line {number} is not valid JSON ({str(exc)[:80]})"
        raise error(msg) from None


def refuse_twice(
    record: dict[str, Any], paths: Iterable[tuple[str, ...]], number: int, where: str
) -> None:
    """Refuse a line with a key twice at its top level, or on the path of a date-time.

    JSON leaves the meaning of a key twice open (RFC 8259, 4): simdjson reads the first
    value, orjson and the loaders the last. Choosing one would pass on a value the
    upstream may not mean, silently; so the line is refused, naming the key. Keys twice
    deeper in a value the tap does not read pass on as written, as the API holds them.
    """
    twice = getattr(record, "twice", ())
    shown = twice[0] if twice else None
    for path in () if twice else paths:
        node: Any = record
        for depth, name in enumerate(path):
            if name in getattr(node, "twice", ()):
                shown = ".".join(path[: depth + 1])
                break
            node = node.get(name)
            if not isinstance(node, dict):
                break
        if shown is not None:
            break
    if shown is not None:
        msg = (
            f"{where}: line {number} holds the key {shown[:60]!r} twice in one object; JSON "
            "readers disagree on which value counts, so the line is refused"
        )
        raise DataFormatError(msg)


def depth_error(where: str, number: int) -> DataFormatError:
    """A line nested too deep, as one line (both passes refuse it so)."""
    msg = (
        f"{where}: line {number} nests deeper than {MAX_DEPTH} levels, more than the tap "
        "writes; the line is refused"
    )
    return DataFormatError(msg)
