"""Export zips whose member names are anything a zip can hold, and what the tap must make of them.

A zip stores a member's name as bytes, with a flag (general purpose bit 11) saying
whether they are UTF-8; anything else is read as code page 437. So a name can be empty,
a directory, absolute, climb with ``..``, hold a NUL, a backslash, a newline, bytes of no
encoding, or stand twice, and be up to 65,535 bytes long. :func:`zip_of` writes such
zips field by field (``zipfile`` would clean the names); :func:`zip_case` makes one at
random with the outcome the tap owes it: the CSV's rows whatever the names, unless a
name breaks the zip's own UTF-8 flag or two members hold data, which are worded errors.
:func:`check_zip_names` holds ``extract_csv`` to that, and checks that nothing was
written anywhere but the file the tap gave it. Used by ``tests/kit/fuzzkit.py`` and
``tests/process/test_hostile_zips.py``.
"""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tap_activities.errors import CorruptDownloadError, DataFormatError
from tap_activities.sources.chartmogul import zip_members
from tap_activities.sources.chartmogul import zipped_csv as chartmogul_csv

UTF8_FLAG = 0x800
CSV = (
    b"uuid,date,activity-mrr,customer-name\r\n"
    b"u-1,2024-01-01T00:00:00Z,-1200,Ana\r\n"
    b'u-2,2024-01-02T00:00:00Z,300,"O\'Connor, Pat"\r\n'
)
APPLE_DOUBLE = zip_members.APPLE_DOUBLE + b"\x00\x02\x00\x00Mac OS X        " + bytes(40)


@dataclass(frozen=True)
class Member:
    """One member as the zip stores it: name bytes, whether flagged UTF-8, data."""

    name: bytes
    data: bytes = b""
    utf8: bool = False
    method: int = zipfile.ZIP_DEFLATED

    @property
    def unreadable_name(self) -> bool:
        """Flagged UTF-8 but not UTF-8: ``zipfile`` cannot read the zip's directory."""
        if not self.utf8:
            return False
        try:
            self.name.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False


def zip_of(members: Sequence[Member]) -> bytes:
    """The zip holding ``members`` in order, names and flags exactly as given."""
    head = bytearray()
    directory = bytearray()
    for member in members:
        payload = member.data
        if member.method == zipfile.ZIP_DEFLATED:
            deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = deflate.compress(member.data) + deflate.flush()
        flags = UTF8_FLAG if member.utf8 else 0
        crc = zlib.crc32(member.data)
        sizes = (crc, len(payload), len(member.data), len(member.name))
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, member.method, 0, 0x21, *sizes,
            0, 0, 0, 0, 0, len(head),
        )  # fmt: skip
        directory += member.name
        head += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, flags, member.method, 0, 0x21, *sizes, 0
        )
        head += member.name + payload
    count = len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), len(head), 0)
    return bytes(head + directory + end)


Name = tuple[bytes, bool]
"""A member name as stored, and whether it is flagged UTF-8."""


def _utf8(rng: random.Random) -> Name:
    right_to_left = "\u202e\u0432\u0437\u043b\u043e\u043c.csv"
    text = rng.choice(("é.csv", "李雷.csv", right_to_left, "\U0001f600", "e\u0301", "ﬁ.csv"))
    return text.encode(), rng.random() < 0.8  # unflagged, code page 437 reads it otherwise


def _long(rng: random.Random) -> Name:
    unit = rng.choice((b"x", b"../", b"a/", "é".encode()))
    size = rng.choice((255, 256, 4096, 65_535))
    return (unit * (size // len(unit) + 1))[:size], False


def _random(rng: random.Random) -> Name:
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))), rng.random() < 0.3


def _pick(*names: bytes, utf8: bool = False) -> Callable[[random.Random], Name]:
    return lambda rng: (rng.choice(names), utf8)


NAME_FAMILIES: dict[str, Callable[[random.Random], Name]] = {
    "ordinary": _pick(b"activities.csv", b"export.CSV", b"data", b"x.txt", b"a.csv.zip"),
    "empty": lambda rng: (b"", rng.random() < 0.5),
    "directory": _pick(b"d/", b"a/b/", b"/", b"exports/2024/"),
    "absolute": _pick(b"/etc/passwd", b"/tmp/tap-escape.csv", b"//host/share/x.csv", b"/"),
    "windows": _pick(b"C:\\x.csv", b"C:/x.csv", b"\\\\server\\x.csv", b"CON", b"NUL.csv"),
    "parent": _pick(
        b"../x.csv",
        b"../../../../../../tmp/tap-escape.csv",
        b"a/../../x.csv",
        b"..",
        b"../",
        b"..\\..\\x.csv",
        b"./../x.csv",
    ),
    "nul": _pick(b"a\x00b.csv", b"\x00", b"x.csv\x00.txt", b"\x00../../x.csv"),
    "backslash": _pick(b"a\\b.csv", b"\\", b"\\..\\x.csv"),
    "control": _pick(b"a\nb.csv", b"\r", b"\t", b"\x1b[31mred.csv", b"\x7f", b"line\r\nbreak"),
    "dots-and-shell": _pick(b".", b"...", b" ", b"~", b"~/x.csv", b"$HOME", b"%TEMP%", b"*?<>|"),
    "code-page-437": _pick(b"\x80\x81\x82.csv", b"\xff", b"caf\x82.csv", b"\xe9t\xe9.csv"),
    "utf8": _utf8,
    "utf8-flag-broken": _pick(b"\xff\xfe.csv", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\x80", utf8=True),
    "macos-fork-name": _pick(b"__MACOSX/._activities.csv", b"._x.csv", b"__MACOSX/"),
    "long": _long,
    "random": _random,
}


@dataclass
class NameTally:
    """The member names tried, per family, and how many were distinct."""

    per_family: Counter[str] = field(default_factory=Counter)
    distinct: set[Name] = field(default_factory=set)

    def add(self, family: str, name: Name) -> None:
        self.per_family[family] += 1
        self.distinct.add(name)

    @property
    def total(self) -> int:
        return sum(self.per_family.values())

    def summary(self) -> str:
        families = ", ".join(f"{f} {n}" for f, n in sorted(self.per_family.items()))
        return f"{self.total} member names ({len(self.distinct)} distinct): {families}"


@dataclass(frozen=True)
class ZipCase:
    """A zip and what the tap owes it: the CSV's rows, or an error with these words."""

    members: tuple[Member, ...]
    error: str | None

    @property
    def body(self) -> bytes:
        return zip_of(self.members)


def zip_case(rng: random.Random, tally: NameTally | None = None) -> ZipCase:
    """The CSV under a hostile name, among members that hold nothing or a resource fork."""

    def member(data: bytes) -> Member:
        family = rng.choice(list(NAME_FAMILIES))
        name, utf8 = NAME_FAMILIES[family](rng)
        if tally is not None:
            tally.add(family, (name, utf8))
        method = rng.choice((zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED))
        return Member(name, data, utf8, method)

    members = [member(CSV)]
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        roll = rng.random()
        if roll < 0.25:  # the CSV's name again, on a member that holds nothing
            members.append(Member(members[0].name, b"", members[0].utf8))
        else:
            members.append(member(APPLE_DOUBLE if roll < 0.5 else b""))
    two = rng.random() < 0.08
    if two:  # a second member holding data: which is the export cannot be told
        members.append(member(b"uuid\r\nu-9\r\n"))
    rng.shuffle(members)
    if any(m.unreadable_name for m in members):
        return ZipCase(tuple(members), "marked as UTF-8 but is not")
    return ZipCase(tuple(members), "expected one CSV file in the zip" if two else None)


class ZipNameError(AssertionError):
    """The tap read a zip otherwise than its names allow, or wrote where it must not."""


def expected_rows(directory: Path) -> list[dict]:
    plain = directory / "plain.csv"
    plain.write_bytes(CSV)
    return list(chartmogul_csv.iter_csv_rows(plain, where="x"))


def check_zip_names(
    rng: random.Random,
    directory: Path,
    tally: NameTally | None = None,
    mutate: Callable[[random.Random, bytes], bytes] | None = None,
) -> None:
    """One :func:`zip_case` through ``extract_csv`` and the CSV reader, as the tap reads it.

    Unmutated: exactly the CSV's rows, or the case's error. Mutated by ``mutate`` (a
    fifth of the time): rows or a worded error. Always: the only files are the zip and
    the CSV file the reader was given.
    """
    case = zip_case(rng, tally)
    data = case.body
    mutated = mutate is not None and rng.random() < 0.2
    if mutate is not None and mutated:
        data = mutate(rng, data)
    root = directory / "names"
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    zipped, out = work / "fuzz.zip", work / "fuzz.csv"
    zipped.write_bytes(data)
    _check_directory_bound(zipped, data)
    try:
        with out.open("wb") as handle:
            chartmogul_csv.extract_csv(zipped, handle, "x")
        rows = list(chartmogul_csv.iter_csv_rows(out, where="x"))
    except (CorruptDownloadError, DataFormatError) as exc:
        message = str(exc)
        if "\n" in message or not message.startswith("x: ") or len(message) > 400:
            raise ZipNameError(f"badly worded error {message!r} on {data!r}") from None
        if not mutated and (case.error is None or case.error not in message):
            raise ZipNameError(f"{message!r} on {case.members!r} (owed: {case.error})") from None
    except Exception as exc:
        raise ZipNameError(f"raw {type(exc).__name__}: {exc} on zip {data!r}") from exc
    else:
        if not mutated and (case.error is not None or rows != expected_rows(directory)):
            raise ZipNameError(f"rows {rows!r} from {case.members!r} (owed: {case.error})")
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    if written != ["work", "work/fuzz.csv", "work/fuzz.zip"]:
        raise ZipNameError(f"files {written} after reading {case.members!r}")


def _check_directory_bound(zipped: Path, data: bytes) -> None:
    """The directory size the tap bounds is at least what ``zipfile`` will read."""
    with zipped.open("rb") as handle:
        try:
            end = zipfile._EndRecData(handle)  # the reference the bound copies
        except (zipfile.BadZipFile, OSError):
            return
    if end is None:
        return
    bound = zip_members.directory_bytes(zipped)
    if bound is None or bound < end[zipfile._ECD_SIZE]:
        raise ZipNameError(f"directory bound {bound} below zipfile's {end} on {data!r}")
