"""Hostile ChartMogul zips and CSVs: one worded error naming the file, and bounded memory.

The local upstream serves each zip as exact bytes (``up.served``); the tap meets it as a
process. Every failure must be one ``tap-activities: error:`` line naming stream, window,
export and file, never a raw zipfile, bz2 or lzma exception. A bzip2 bomb whose header
declares an acceptable ratio must not take the tap past its usual resident size.
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tap_activities.errors import CorruptDownloadError, DataFormatError, UnsafeArchiveError
from tap_activities.sources.chartmogul import zip_members
from tap_activities.sources.chartmogul import zipped_csv as chartmogul_csv
from tests.kit.tap_process import CLI_ERROR, TAP, select_only
from tests.kit.upstream import chartmogul_config, fast_upstream_config
from tests.kit.zip_names import APPLE_DOUBLE, Member, zip_of

STREAM = "chartmogul_churn"
DAY = "2024-01-01"
MEMBER = "activities.csv"
HEADER = b"uuid,date,type,activity-mrr,customer-name\r\n"
ROW = b"u-1,2024-01-01T10:00:00+00:00,churn,-1200,Ana\r\n"
BOMB_BYTES = 400 << 20
"""What the test bomb decompresses to: far past the tap's usual ~60 MB, quick to make."""
RSS_LIMIT_MB = 250
"""Peak resident size allowed on the bomb (the tap's usual ~60 MB and its interpreter;
before the fix a 1.6 KB bomb took it to 4 GB)."""


def raw_zip(
    payload: bytes,
    *,
    method: int,
    file_size: int,
    crc: int = 0,
    flags: int = 0,
    version: int = 20,
    name: str = MEMBER,
) -> bytes:
    """A one-member zip written field by field, saying whatever a test wants it to say."""
    encoded = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, version, flags, method, 0, 0x21, crc, len(payload),
        file_size, len(encoded), 0,
    )  # fmt: skip
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, flags, method, 0, 0x21, crc,
        len(payload), file_size, len(encoded), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    head = local + encoded + payload
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(encoded), len(head), 0
    )
    return head + central + encoded + end


def deflated(csv_bytes: bytes, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip as zipfile writes it, holding ``csv_bytes``."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w", compression=compression) as archive:
        archive.writestr(MEMBER, csv_bytes)
    return body.getvalue()


def bzip2_bomb(size: int = BOMB_BYTES) -> bytes:
    """A bzip2 member of ``size`` zeros whose header declares a ratio of 150 (accepted)."""
    compressor = bz2.BZ2Compressor(9)
    zeros = bytes(1 << 22)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    payload = b"".join([*parts, compressor.flush()])
    return raw_zip(payload, method=zipfile.ZIP_BZIP2, file_size=150 * len(payload))


def flip_data_byte(body: bytes) -> bytes:
    """The zip with one byte of its compressed data flipped (the CRC no longer holds)."""
    at = 30 + len(MEMBER) + 2
    return body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]


@dataclass(frozen=True)
class Hostile:
    """A zip to serve and the words its error must carry (with stream, window, export)."""

    body: bytes
    needles: tuple[str, ...]


GOOD = deflated(HEADER + ROW)
CASES = {
    "lzma-member": Hostile(
        deflated(HEADER + ROW, zipfile.ZIP_LZMA), ("compressed with lzma", "method 14")
    ),
    "bzip2-member": Hostile(
        deflated(HEADER + ROW, zipfile.ZIP_BZIP2), ("compressed with bzip2", "method 12")
    ),
    "deflate64-member": Hostile(
        raw_zip(b"\x03\x00", method=9, file_size=2), ("deflate64", "method 9")
    ),
    "unknown-method": Hostile(raw_zip(b"xx", method=77, file_size=2), ("unknown method",)),
    "encrypted-member": Hostile(
        raw_zip(b"x" * 40, method=8, file_size=40, flags=0x1), ("is encrypted",)
    ),
    "strong-encryption": Hostile(
        raw_zip(b"x" * 40, method=8, file_size=40, flags=0x41), ("is encrypted",)
    ),
    "zip-version-too-new": Hostile(
        raw_zip(ROW, method=0, file_size=len(ROW), crc=zlib.crc32(ROW), version=99),
        ("corrupt zip", "version"),
    ),
    "bad-crc": Hostile(flip_data_byte(GOOD), ("corrupt zip",)),
    "broken-deflate": Hostile(
        raw_zip(b"\xff" * 40, method=8, file_size=80), ("corrupt zip", "stays corrupt")
    ),
    "cut-short": Hostile(GOOD[: len(GOOD) // 2], ("corrupt zip",)),
    "not-a-zip": Hostile(b"<html>Access denied</html>", ("corrupt zip",)),
    "bzip2-corrupt": Hostile(raw_zip(b"BZh9" + b"\x00" * 30, method=12, file_size=100), ("bzip2",)),
    # The CSV inside.
    "csv-invalid-utf8": Hostile(
        deflated(HEADER + b"u-1,2024-01-01,churn,1,An\xffa\r\n"), ("line 2 is not UTF-8",)
    ),
    "csv-nul": Hostile(
        deflated(HEADER + ROW + b"u-2,2024-01-01,churn,1,A\x00\r\n"), ("line 3", "NUL")
    ),
    "csv-unterminated-quote": Hostile(
        deflated(HEADER + ROW + b'u-2,2024-01-01,churn,1,"Ana\r\n'),
        ("row 2", "quoted field is not closed"),
    ),
    "csv-money-past-64-bits": Hostile(
        deflated(HEADER + b"u-1,2024-01-01,churn,99999999999999999999999999,Ana\r\n"),
        ("row 1", "'activity-mrr'", "64-bit"),
    ),
    "csv-field-twice-in-header": Hostile(
        deflated(b"uuid,date,Customer Name,customer-name\r\nu-1,2024-01-01,Ana,Bo\r\n"),
        ("'Customer Name' and 'customer-name'", "'customer_name'"),
    ),
    "csv-money-underscore": Hostile(
        deflated(HEADER + b"u-1,2024-01-01,churn,1_000,Ana\r\n"), ("row 1", "'1_000'")
    ),
    # Names: what members hold decides, so a name alone fails a zip only where it breaks
    # the zip's own encoding flag.
    "name-flagged-utf8-but-not": Hostile(
        zip_of([Member(b"\xff\xfe.csv", HEADER + ROW, utf8=True)]),
        ("marked as UTF-8 but is not", "invalid start byte at byte 0"),
    ),
    "two-members-with-data": Hostile(
        zip_of([Member(b"", HEADER + ROW), Member(b"d/", b"uuid\r\nu-9\r\n")]),
        ("expected one CSV file", "2 members holding data", "a member with no name", "d/"),
    ),
    "empty-zip": Hostile(zip_of([]), ("expected one CSV file", "empty zip")),
    "directory-of-25001-members": Hostile(
        zip_of([Member(b"", HEADER + ROW)] + [Member(b"")] * 25_000),
        ("refusing a zip whose directory takes 1150046 bytes",),
    ),
}


def run_zip(
    body: bytes, workdir: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str, list[dict], float]:
    """The tap as a process against a served zip: exit code, stderr, records, peak RSS in MB.

    The tap runs under a small Python parent that reports its children's peak resident
    size, so the figure is the tap's alone. ``env`` is added to the tap's environment.
    """
    with LocalUpstream(fast_upstream_config()) as up:
        up.served.chartmogul_zip(body)
        config = chartmogul_config(up, start_date=DAY, end_date=DAY, max_retry_seconds=5)
        from tap_activities.tap import TapActivities

        catalog = select_only(TapActivities(config=config).catalog_dict, STREAM)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(json.dumps(config))
        (workdir / "catalog.json").write_text(json.dumps(catalog))
        measure = (
            "import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'peak-rss-kb {peak}', file=sys.stderr)\n"
            "sys.exit(code)\n"
        )
        command = [TAP, "--config", str(workdir / "config.json")]
        command += ["--catalog", str(workdir / "catalog.json")]
        proc = subprocess.run(
            [sys.executable, "-c", measure, *command],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    lines = proc.stderr.splitlines()
    peak_kb = int(next(line for line in lines if line.startswith("peak-rss-kb")).split()[1])
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    bookmarked = any(
        "bookmark" in m["value"].get("bookmarks", {}).get(STREAM, {})
        for m in messages
        if m["type"] == "STATE"
    )
    assert not (bookmarked and proc.returncode), "a failed window was bookmarked"
    return proc.returncode, proc.stderr, records, peak_kb / 1024


def assert_one_worded_error(code: int, stderr: str, needles: tuple[str, ...]) -> str:
    assert code != 0
    assert "Traceback" not in stderr
    assert "unexpected" not in stderr.lower()
    errors = [line for line in stderr.splitlines() if line.startswith(CLI_ERROR)]
    assert len(errors) == 1, stderr[-2000:]
    for needle in (STREAM, f"window {DAY}..{DAY}", "export ", "file activities-", *needles):
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_zip_through_the_tap(name, tmp_path):
    code, stderr, records, _peak = run_zip(CASES[name].body, tmp_path)
    assert_one_worded_error(code, stderr, CASES[name].needles)
    if not name.startswith("csv-"):  # rows before a bad one may go out, unbookmarked
        assert not records


def test_a_good_zip_still_loads(tmp_path):
    code, stderr, records, _peak = run_zip(GOOD, tmp_path)
    assert code == 0, stderr[-2000:]
    assert [r["uuid"] for r in records] == ["u-1"]
    assert records[0]["activity_mrr"] == -1200


ESCAPES = ("../../escape.csv", "../../../escape.csv", "..\\..\\escape.csv", "~/escape.csv")
"""Names that would land beside the tap's temporary folder, or in HOME, were they paths."""
NAMES = {
    "empty": b"",
    "directory": b"exports/",
    "nul-first": b"\x00../../escape.csv",
    "code-page-437": b"\x80\xff\xfe.csv",
    "utf8": "\u202e\u043f\u0443\u0442\u044c/李雷.csv".encode(),
    "longest": b"x" * 65_535,
    "control": b"a\nb\r\x1b[31m.csv",
    "macos-fork-name": b"__MACOSX/._activities.csv",
    **{f"climbing-{i}": name.encode() for i, name in enumerate(ESCAPES)},
}


@pytest.mark.parametrize("name", [*NAMES, "absolute", "crowded"])
def test_any_member_name_gives_the_csvs_records_and_writes_nowhere_else(name, tmp_path):
    """The CSV under any name; around it, members that hold nothing or a macOS fork.

    The tap runs with its temporary directory deep in the test's folder, its working
    directory and HOME beside it: afterwards, the folder holds only what the test wrote.
    """
    temporary, cwd, home = tmp_path / "tmp" / "a" / "b", tmp_path / "cwd", tmp_path / "home"
    for folder in (temporary, cwd, home):
        folder.mkdir(parents=True)
    absolute = str(tmp_path / "tmp" / "escape.csv").encode()
    members = [Member(NAMES.get(name, absolute), HEADER + ROW)]
    if name == "crowded":  # the same name again, a directory, a fork: none holds rows
        members = [
            Member(b"activities.csv", APPLE_DOUBLE),
            Member(b"../../escape.csv", HEADER + ROW),
            Member(b"../../escape.csv"),
            Member(b"d/"),
            Member(b"__MACOSX/._escape.csv", APPLE_DOUBLE, method=zipfile.ZIP_STORED),
        ]
    env = {"TMPDIR": str(temporary), "HOME": str(home)}
    code, stderr, records, _peak = run_zip(zip_of(members), tmp_path / "run", env=env, cwd=cwd)
    assert code == 0, stderr[-2000:]
    assert [r["uuid"] for r in records] == ["u-1"]
    assert records[0]["activity_mrr"] == -1200
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["run/catalog.json", "run/config.json"]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bzip2_bomb()


def test_a_bzip2_bomb_is_refused_in_bounded_memory(bomb, tmp_path):
    assert len(bomb) < 2048  # a tiny download...
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        member = archive.infolist()[0]
        assert member.file_size / member.compress_size <= chartmogul_csv.MAX_COMPRESSION_RATIO
    code, stderr, _records, peak_mb = run_zip(bomb, tmp_path)
    assert_one_worded_error(code, stderr, ("compressed with bzip2",))
    assert peak_mb < RSS_LIMIT_MB, f"the tap reached {peak_mb:.0f} MB on a bomb"


# extract_csv and the CSV reader, directly ------------------------------------------------------


def extract(body: bytes, tmp_path: Path) -> bytes:
    zipped = tmp_path / "export.zip"
    zipped.write_bytes(body)
    out = tmp_path / "out.csv"
    with out.open("wb") as handle:
        chartmogul_csv.extract_csv(zipped, handle, "export X file export.zip")
    return out.read_bytes()


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("csv-")])
def test_extract_words_every_zip_failure(name, tmp_path):
    with pytest.raises((CorruptDownloadError, DataFormatError)) as refused:
        extract(CASES[name].body, tmp_path)
    assert str(refused.value).startswith("export X file export.zip: ")


def test_extract_refuses_the_bomb_before_decompressing_it(bomb, tmp_path):
    with pytest.raises(UnsafeArchiveError, match="bzip2"):
        extract(bomb, tmp_path)
    assert (tmp_path / "out.csv").stat().st_size == 0


def test_a_stored_member_is_read(tmp_path):
    body = raw_zip(
        HEADER + ROW, method=0, file_size=len(HEADER + ROW), crc=zlib.crc32(HEADER + ROW)
    )
    assert extract(body, tmp_path) == HEADER + ROW


def test_a_member_longer_than_declared_is_cut_and_fails_its_crc(tmp_path):
    data = HEADER + ROW * 1000
    payload = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = payload.compress(data) + payload.flush()
    body = raw_zip(compressed, method=8, file_size=len(HEADER), crc=zlib.crc32(data))
    with pytest.raises(CorruptDownloadError, match="corrupt zip"):
        extract(body, tmp_path)
    assert (tmp_path / "out.csv").stat().st_size <= len(HEADER)


def rows_of(content: bytes, tmp_path: Path) -> list[dict]:
    path = tmp_path / "rows.csv"
    path.write_bytes(content)
    return list(chartmogul_csv.iter_csv_rows(path, where="w"))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            HEADER + b"u-1,2024-01-01,churn,1,An\xffa\r\n",
            "line 2 is not UTF-8 (invalid start byte at byte 25)",
        ),
        (HEADER + ROW + b"u-2,2024-01-01,churn,1,A\x00\r\n", "line 3 holds a NUL"),
        (HEADER + ROW + b'u-2,2024-01-01,churn,1,"Ana\r\n', "row 2"),
        (HEADER + b"u-1,2024-01-01,churn,9223372036854775808,Ana\r\n", "64-bit"),
        (HEADER + b"u-1,2024-01-01,churn,\xd9\xa1\xd9\xa2,Ana\r\n", "invalid value"),
        (HEADER + b"u-1,2024-01-01,churn, 12,Ana\r\n", "invalid value"),
        (HEADER + b"u-1,2024-01-01,churn,+12,Ana\r\n", "invalid value"),
        (b"uuid,uuid\r\n", "columns 'uuid' and 'uuid' both name the field 'uuid'"),
        (b"uuid,activityMrr,activity-mrr\r\nu,1,2\r\n", "'activityMrr' and 'activity-mrr'"),
    ],
)
def test_csv_rows_refused_with_their_numbers(content, words, tmp_path):
    with pytest.raises(DataFormatError) as refused:
        rows_of(content, tmp_path)
    assert str(refused.value).startswith("w: ")
    assert words in str(refused.value)


def test_money_within_64_bits_is_kept_exactly(tmp_path):
    content = HEADER + b"u-1,2024-01-01,churn,-9223372036854775808,Ana\r\n"
    assert rows_of(content, tmp_path)[0]["activity_mrr"] == -(2**63)


def test_an_overlong_field_is_a_worded_row_error(tmp_path):
    limit = csv.field_size_limit()
    csv.field_size_limit(100)
    try:
        with pytest.raises(DataFormatError, match=r"row 1 .*field larger than field limit"):
            rows_of(HEADER + b"u-1,2024-01-01,churn,1," + b"x" * 200 + b"\r\n", tmp_path)
    finally:
        csv.field_size_limit(limit)


def test_a_nul_in_a_range_sends_the_file_to_the_one_pass(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(HEADER + ROW + b"u-2,2024-01-01,churn,1,A\x00\r\n")
    task = chartmogul_csv.CsvRange(
        str(path), len(HEADER), path.stat().st_size, HEADER.decode().strip().split(","),
        ("uuid",), chartmogul_csv.Framing(b"", b"\n", b"\n"), str(tmp_path),
    )  # fmt: skip
    with pytest.raises(chartmogul_csv.CsvRowError):
        chartmogul_csv.frame_csv_range(task)


def as_zip64(body: bytes, directory_size: int | None = None) -> bytes:
    """``body`` with ZIP64 end records, its end record's fields set to their placeholders.

    As Go and Java write a ZIP64 zip; ``directory_size`` replaces the true size in the
    ZIP64 record.
    """
    end = body.rindex(b"PK\x05\x06")
    entries, size, offset = struct.unpack_from("<HII", body, end + 10)
    record = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries,
        size if directory_size is None else directory_size, offset,
    )  # fmt: skip
    locator = struct.pack("<IIQI", 0x07064B50, 0, end, 1)
    placeholders = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0
    )
    return body[:end] + record + locator + placeholders


def test_a_zip64_zip_is_read_and_its_true_directory_size_bounded(tmp_path):
    body = zip_of([Member(b"activities.csv", HEADER + ROW), Member(b"d/")])
    plain = zip_members.directory_bytes(written(tmp_path / "plain.zip", body))
    assert plain == 2 * 46 + len(b"activities.csv") + len(b"d/")
    zip64 = as_zip64(body)
    assert zip_members.directory_bytes(written(tmp_path / "zip64.zip", zip64)) == plain
    assert extract(zip64, tmp_path) == HEADER + ROW  # zipfile reads it; so does the tap
    lying = as_zip64(body, directory_size=1 << 40)
    assert zip_members.directory_bytes(written(tmp_path / "lying.zip", lying)) == 1 << 40
    with pytest.raises(UnsafeArchiveError, match=f"directory takes {1 << 40} bytes"):
        extract(lying, tmp_path)


def written(path: Path, body: bytes) -> Path:
    path.write_bytes(body)
    return path
