"""A seeded differential fuzzer of the two fragment passes, and of zip and CSV reading.

People.ai lines are generated (records of the schema's shape, spelled in the many ways
JSON allows) and mutated (a BOM, a key twice, deep nesting, wide integers, flipped,
inserted and cut bytes, odd line ends), then read by the native pass and the Python pass.
Both must give the same bytes, or the same :class:`DataFormatError`; and what they give
must hold the contract: every line valid JSON, every schema field present, every date-time
RFC 3339, every error one worded line. ``frame()`` is also called directly with random
arguments, and export zips and CSVs are mutated and read (a worded error or rows, never a
raw exception), zips among them whose member names are anything a zip can hold
(:mod:`tests.kit.zip_names`: the CSV's rows whatever the names).

Used by ``tests/unit/test_fuzz_passes.py`` (bounded, in the suite) and by
``tests/fuzz_sanitized.py`` (``make fuzz``: longer, under ASan and UBSan).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_activities.errors import CorruptDownloadError, DataFormatError
from tap_activities.records.contract import normal_date_time
from tap_activities.records.framing import Framing
from tap_activities.sources.chartmogul import zipped_csv as chartmogul_csv
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.record_lines import RecordLines
from tap_activities.sources.peopleai.lines.scan import MAX_DEPTH
from tests.kit.zip_names import NameTally, check_zip_names

FIELDS = ("uid", "timestamp", "ingest_timestamp", "subject", "stats", "tags", "crm_status")
DATE_TIMES = (("timestamp",), ("ingest_timestamp",), ("crm_status", "push_time"))
RECORD = Framing(b'{"type":"RECORD","record":', b'}\n{"type":"RECORD","record":', b"}\n")
BOM = b"\xef\xbb\xbf"

STAMPS = (
    "2024-02-24T05:39:24",
    "2024-02-24T05:39:24Z",
    "2024-02-24T05:39:24.250",
    "2024-02-24T05:39:24.5+01:00",
    "2024-02-24t05:39:24z",
    "2024-02-29T23:59:59",
    "2023-02-29T00:00:00",
    "2024-04-31T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-02-24T24:00:00",
    "2024-02-24T05:39:60Z",
    "2024-02-24T05:39:24.Z",
    "2024-02-24T05:39:24+24:00",
    "2024-02-24 05:39:24",
    "\uff12\uff10\uff12\uff14-02-24T05:39:24",
    "2024-02-24T05:39:24\u0000",
    "",
    "garbage",
)
STRINGS = ("", "a", "café", "李雷", 'Zoë "Z"', "back\\slash", "\u2028", "\U0001f600", "\u0000", "/")


@dataclass
class Writer:
    """Spells a value as JSON text in one of the ways the grammar allows, at random."""

    rng: random.Random

    def value(self, value: Any) -> str:
        if isinstance(value, Spelled):
            return value.text
        if isinstance(value, dict):
            return self.members(list(value.items()))
        if isinstance(value, list):
            return "[" + ",".join(self.gap() + self.value(v) + self.gap() for v in value) + "]"
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, bool) or value is None:
            return json.dumps(value)
        if isinstance(value, float) and self.rng.random() < 0.3:
            return f"{value:E}"
        return json.dumps(value)

    def members(self, pairs: list[tuple[str, Any]]) -> str:
        inner = ",".join(
            f"{self.gap()}{self.string(k)}{self.gap()}:{self.gap()}{self.value(v)}{self.gap()}"
            for k, v in pairs
        )
        return "{" + inner + "}"

    def string(self, text: str) -> str:
        roll = self.rng.random()
        if roll < 0.7:
            return json.dumps(text, ensure_ascii=False)
        if roll < 0.85:
            return json.dumps(text)
        # A letter spelled as an escape: the same key or value to a reader.
        body = json.dumps(text, ensure_ascii=False)[1:-1]
        if body and body[0].isalnum():
            body = f"\\u{ord(body[0]):04x}" + body[1:]
        return '"' + body.replace("/", "\\/") + '"'

    def gap(self) -> str:
        return self.rng.choice(("", "", "", " ", "\t", "  "))


@dataclass(frozen=True)
class Spelled:
    """A value written exactly so (a wide integer, a number spelling orjson would change)."""

    text: str


@dataclass
class Lines:
    """Generates and mutates People.ai lines from one seed."""

    seed: int
    rng: random.Random = field(init=False)
    writer: Writer = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.writer = Writer(self.rng)

    def scalar(self) -> Any:
        rng = self.rng
        return rng.choice(
            (
                None,
                True,
                False,
                0,
                -1,
                rng.randint(-(2**63), 2**63 - 1),
                2**63,
                Spelled(str(rng.choice((2**64, -(2**64) - 1, 10**30)))),
                Spelled(rng.choice(("1.0E2", "-0", "-0.0", "1e-400", "0.1e1", "1E308"))),
                1.5,
                rng.random(),
                rng.choice(STRINGS),
                rng.choice(STAMPS),
            )
        )

    def nested(self, depth: int = 0) -> Any:
        roll = self.rng.random()
        if depth > 3 or roll < 0.5:
            return self.scalar()
        if roll < 0.75:
            return [self.nested(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return {
            self.rng.choice((*STRINGS, "n", "push_time")): self.nested(depth + 1) for _ in range(2)
        }

    def stamp(self) -> Any:
        roll = self.rng.random()
        if roll < 0.75:
            return self.rng.choice(STAMPS[:6])
        if roll < 0.9:
            return self.rng.choice(STAMPS)
        return self.scalar() if roll < 0.95 else self.nested()

    def record(self) -> list[tuple[str, Any]]:
        rng = self.rng
        pairs: list[tuple[str, Any]] = [("uid", f"u{rng.randint(0, 99)}")]
        for name in FIELDS[1:]:
            if rng.random() < 0.6:
                pairs.append((name, self.field_value(name)))
        for _ in range(rng.choice((0, 0, 1, 2))):
            pairs.append((rng.choice(("x", "note", "\u0000", "", "é", "uid2")), self.nested()))
        rng.shuffle(pairs)
        if rng.random() < 0.04:  # a key twice
            pairs.append(rng.choice(pairs))
        return pairs

    def field_value(self, name: str) -> Any:
        if name in {"timestamp", "ingest_timestamp"}:
            return self.stamp()
        if name == "crm_status":
            if self.rng.random() < 0.1:
                return self.scalar()
            inner = {"pushed": self.rng.random() < 0.5, "push_time": self.stamp()}
            if self.rng.random() < 0.04:
                return Spelled(self.writer.members([*inner.items(), ("push_time", self.stamp())]))
            return inner
        if name == "tags":
            return [self.rng.choice(STRINGS) for _ in range(self.rng.randint(0, 3))]
        return self.nested()

    def line(self) -> bytes:
        rng = self.rng
        pairs = self.record()
        if rng.random() < 0.02:  # deep: around the limit
            depth = MAX_DEPTH + rng.randint(-3, 3)
            pairs.append(("deep", Spelled("[" * depth + "]" * depth)))
        text = self.writer.gap() + self.writer.members(pairs) + self.writer.gap()
        return text.encode()

    def content(self) -> bytes:
        """Some lines, maybe mutated, as one fragment."""
        rng = self.rng
        lines = [self.line() for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.5:
            at = rng.randrange(len(lines))
            lines[at] = self.mutate(lines[at])
        ending = rng.choice((b"\n", b"\n", b"\r\n"))
        content = ending.join(lines)
        if rng.random() < 0.8:
            content += ending
        if rng.random() < 0.05:
            content = BOM + content
        return content

    def mutate(self, line: bytes) -> bytes:
        rng = self.rng
        at = rng.randint(0, len(line))
        roll = rng.random()
        if roll < 0.15:
            return BOM + line
        if roll < 0.3:
            return line[:at]
        if roll < 0.5:
            return (
                line[:at]
                + rng.choice((b"\x00", b"\xff", b'"', b"{", b"\n", b"\r", b"\\", b","))
                + line[at:]
            )
        if roll < 0.65 and line:
            at = min(at, len(line) - 1)
            return line[:at] + bytes([line[at] ^ (1 << rng.randrange(8))]) + line[at + 1 :]
        if roll < 0.8:
            return line[:at] + line[at + 1 :]
        return line + rng.choice((b"\n", b"\n\n", b"\n   \n", b" {}"))


class FuzzError(AssertionError):
    """A difference between the passes, or output that breaks the contract."""


def outcome(content: bytes, *, native: bool, size: int) -> tuple:
    """``("ok", bytes, types)`` or ``("error", class, message)`` of one pass."""
    lines = RecordLines(FIELDS, date_times=DATE_TIMES, native=native)
    body = _Body(content, size)
    try:
        blocks = list(lines.blocks(body, where="w", framing=RECORD))
    except DataFormatError as exc:
        return "error", type(exc).__name__, str(exc)
    except Exception as exc:  # a finding, reported with its input
        raise FuzzError(f"raw {type(exc).__name__}: {exc} on {content!r}") from exc
    types: dict[str, int] = {}
    for _count, _bytes, unknown in blocks:
        for name, bits in (unknown or {}).items():
            types[name] = types.get(name, 0) | bits
    return "ok", b"".join(b[1] for b in blocks), types


def check_lines(content: bytes, size: int) -> None:
    """Both passes on ``content`` read in pieces of ``size``: the same, and within contract."""
    python = outcome(content, native=False, size=size)
    if native_frame() is not None:
        native = outcome(content, native=True, size=size)
        if native != python:
            raise FuzzError(
                f"passes differ on {content!r}:\n native {native!r}\n python {python!r}"
            )
    if python[0] == "error":
        message = python[2]
        if not message.startswith("w: line ") or "0x" in message or "\n" in message:
            raise FuzzError(f"badly worded error on {content!r}: {message!r}")
        return
    for text in python[1].split(b"\n")[:-1]:  # a raw CR is JSON whitespace, not a line end
        try:
            record = json.loads(text)["record"]
        except ValueError as exc:
            raise FuzzError(f"invalid output line {text!r} from {content!r}") from exc
        _check_record(record, content)


def _difference(native: tuple, python: tuple) -> str:
    """Where two outcomes differ, shortly."""
    if native[0] != python[0] or native[0] == "error" or native[2] != python[2]:
        return f" native {native!r}\n python {python!r}"
    pairs = zip(native[1].split(b"\n"), python[1].split(b"\n"), strict=False)
    for number, (one, other) in enumerate(pairs, 1):
        if one != other:
            return f" output line {number}:\n native {one!r}\n python {other!r}"
    return " (outputs of different lengths)"


def _check_record(record: dict[str, Any], content: bytes) -> None:
    missing = [name for name in FIELDS if name not in record]
    if missing:
        raise FuzzError(f"schema fields {missing} missing from {record!r} ({content!r})")
    for path in DATE_TIMES:
        node: Any = record
        for name in path[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        value = node.get(path[-1]) if isinstance(node, dict) else None
        if value is not None and (not isinstance(value, str) or normal_date_time(value) != value):
            raise FuzzError(f"date-time {path} is {value!r} in the output of {content!r}")


class _Body:
    def __init__(self, content: bytes, size: int) -> None:
        self.content, self.size, self.at = content, size, 0

    def read(self, size: int) -> bytes:
        piece = self.content[self.at : self.at + min(size, self.size)]
        self.at += len(piece)
        return piece


def check_frame_arguments(rng: random.Random) -> None:
    """``frame()`` with random arguments: a result, None, ValueError or TypeError; no crash."""
    frame = native_frame()
    if frame is None:
        return
    data = Lines(rng.randrange(1 << 30)).content()
    if rng.random() < 0.3:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    end = rng.choice((len(data), rng.randint(-2, len(data) + 2)))
    keys = (b"", b"a", b"uid", b"/", b"\x00", "é".encode(), b"push_time")
    names = tuple(rng.sample(keys, rng.randint(0, 3)))
    nulls = tuple(json.dumps(n.decode("utf-8", "replace")).encode() + b":null" for n in names)
    if rng.random() < 0.1:
        nulls = nulls[:-1]
    stamps = tuple(rng.sample(keys, rng.randint(0, 2)))
    pointers = tuple(
        rng.choice((b"", b"/", b"//", b"/a", b"/a/b", b"a/b", b"/crm_status/push_time"))
        for _ in range(rng.randint(0, 2))
    )
    with contextlib.suppress(ValueError, TypeError):
        frame(data, end, names, nulls, b"", b"\n", b"\n", stamps, pointers)


def check_zip(rng: random.Random, directory: Path) -> None:
    """A mutated export zip read as the tap reads it: rows, or the tap's own errors."""
    rows = b"uuid,date,activity-mrr,customer-name\r\n" + b"".join(
        b"u-%d,2024-01-%02dT00:00:00Z,%d,%s\r\n"
        % (
            i,
            i % 28 + 1,
            rng.randint(-999, 999),
            rng.choice((b"Ana", b'"O\'Connor, Pat"', b"\xc3\xa9")),
        )
        for i in range(rng.randint(0, 30))
    )
    body = io.BytesIO()
    method = rng.choice(
        (zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2)
    )
    with zipfile.ZipFile(body, "w", compression=method) as archive:
        archive.writestr("activities.csv", _mutated(rng, rows) if rng.random() < 0.3 else rows)
    data = _mutated(rng, body.getvalue()) if rng.random() < 0.7 else body.getvalue()
    zipped = directory / "fuzz.zip"
    zipped.write_bytes(data)
    out = directory / "fuzz.csv"
    try:
        with out.open("wb") as handle:
            chartmogul_csv.extract_csv(zipped, handle, "x")
        list(chartmogul_csv.iter_csv_rows(out, where="x"))
    except (CorruptDownloadError, DataFormatError) as exc:
        if "\n" in str(exc) or not str(exc).startswith("x: "):
            raise FuzzError(f"badly worded zip error {exc!r} on {data!r}") from None
    except Exception as exc:
        raise FuzzError(f"raw {type(exc).__name__}: {exc} on zip {data!r}") from exc


def _mutated(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        roll = rng.random()
        if roll < 0.5 and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
        elif roll < 0.7:
            data = data[:at]
        else:
            data = (
                data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + data[at:]
            )
    return data


def run(
    seed: int,
    rounds: int,
    directory: Path,
    report: Callable[[str], None] = print,
    names: NameTally | None = None,
) -> int:
    """``rounds`` rounds of every check from ``seed``; the number of inputs tried.

    ``names`` counts the zip member names tried (:mod:`tests.kit.zip_names`).
    """
    rng = random.Random(seed)
    tried = 0
    for number in range(rounds):
        lines = Lines(seed * 1_000_003 + number)
        content = lines.content()
        for size in (1 << 20, rng.choice((1, 7, 64, 300))):
            check_lines(content, size)
            tried += 1
        check_frame_arguments(rng)
        tried += 1
        if number % 4 == 0:
            check_zip(rng, directory)
            tried += 1
        if number % 2 == 0:
            check_zip_names(rng, directory, names, _mutated)
            tried += 1
        if number and number % 5000 == 0:
            report(f"fuzz: seed {seed}, {number} rounds, {tried} inputs")
    return tried
