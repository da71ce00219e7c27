"""The zipped-CSV reader on hand-made exports: edge cases, errors, unsafe zips, memory."""

from __future__ import annotations

import csv
import io
import itertools
import tracemalloc
import zipfile

import pytest

from tap_activities.errors import CorruptDownloadError, DataFormatError, UnsafeArchiveError
from tap_activities.records.framing import LINES, Framing, frame_records
from tap_activities.records.spooled import read_blocks
from tap_activities.sources.chartmogul import zipped_csv as chartmogul_csv
from tap_activities.sources.chartmogul.zipped_csv import (
    CsvRange,
    CsvRowError,
    _date_time,
    extract_csv,
    frame_csv_range,
    iter_csv_rows,
    normalise_column,
    read_header,
    row_ranges,
)
from tap_activities.transfer.spool import Spool
from tap_activities.transfer.workers import WorkerPool
from tests.kit.zip_names import Member, zip_of

HEADER = [
    "uuid",
    "date",
    "type",
    "description",
    "activity-mrr-movement",
    "activity-mrr",
    "activity-arr",
]


def make_zip(
    tmp_path, rows, *, header=HEADER, bom=False, name="a.csv", raw=None, method=zipfile.ZIP_DEFLATED
):
    text = io.StringIO(newline="")
    if bom:
        text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr(name, raw if raw is not None else text.getvalue().encode())
    return path


def extracted(path):
    """The zip's CSV written out as the download worker does, and its message prefix."""
    target = path.with_suffix(".csv")
    with target.open("wb") as out:
        member = extract_csv(path, out, path.name)
    return target, f"{path.name} ({member})"


def rows_of(path):
    csv_path, where = extracted(path)
    return list(iter_csv_rows(csv_path, where=where))


def test_quoted_commas_quotes_newlines_and_unicode_survive(tmp_path):
    nasty = 'Plan "Pro", annual\r\nsecond line — 新计划 🚀'
    path = make_zip(
        tmp_path,
        [["ac_1", "2024-01-02T03:04:05+00:00", "churn", nasty, "-1250", "0", "0"]],
        bom=True,
    )
    (row,) = rows_of(path)
    assert row == {
        "uuid": "ac_1",
        "date": "2024-01-02T03:04:05+00:00",
        "type": "churn",
        "description": nasty,
        "activity_mrr_movement": -1250,
        "activity_mrr": 0,
        "activity_arr": 0,
    }


def test_header_only_and_empty_file_yield_nothing(tmp_path):
    assert rows_of(make_zip(tmp_path, [])) == []
    assert rows_of(make_zip(tmp_path, [], header=None)) == []


def test_unknown_columns_pass_through_and_empty_cells_are_null(tmp_path):
    path = make_zip(
        tmp_path,
        [["ac_1", "2024-01-02", "", "", "", "5", "60", "x"]],
        header=[*HEADER, "Custom Note"],
    )
    (row,) = rows_of(path)
    assert row["custom_note"] == "x"
    assert row["type"] is None
    assert row["activity_mrr_movement"] is None
    assert row["date"] == "2024-01-02T00:00:00+00:00"  # a date without zone is UTC


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("activity-mrr-movement", "activity_mrr_movement"),
        ("Customer Name", "customer_name"),
        ("customerUuid", "customer_uuid"),
        ("\ufeffuuid", "uuid"),
        (" billing-connector-uuid ", "billing_connector_uuid"),
    ],
)
def test_normalise_column(name, expected):
    assert normalise_column(name) == expected


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        (
            ["ac_1", "2024-01-02", "churn", "d", "12.5", "0", "0"],
            "row 2 (line 3) column 'activity-mrr-movement'",
        ),
        (["ac_1", "yesterday", "churn", "d", "1", "0", "0"], "column 'date'"),
        (["ac_1", "2024-01-02", "churn"], "row 2 (line 3) has 3 fields, the header has 7"),
    ],
)
def test_malformed_rows_name_row_line_and_file(tmp_path, row, needle):
    good = ["ac_0", "2024-01-01", "churn", "ok", "1", "1", "12"]
    with pytest.raises(CsvRowError) as caught:
        rows_of(make_zip(tmp_path, [good, row]))
    message = str(caught.value)
    assert needle in message
    assert "export.zip" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name", [b"../../etc/evil.csv", b"/etc/evil.csv", b"a\\b.csv", b"d/", b"", b"\x00x", b"\xff"]
)
def test_a_members_name_does_not_decide_whether_it_is_read(tmp_path, name):
    # The CSV goes to the tap's own file, never to a path made of the name.
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of([Member(name, b"uuid,date\r\nac_1,2024-01-02\r\n")]))
    assert [r["uuid"] for r in rows_of(path)] == ["ac_1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "export.zip"]


def test_zip_bomb_ratio_is_refused(tmp_path):
    path = make_zip(tmp_path, [], raw=b"uuid\r\n" + b"a" * 5_000_000)
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        extracted(path)


def test_two_csvs_are_refused(tmp_path):
    path = make_zip(tmp_path, [])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("b.csv", "uuid\r\n")
    with pytest.raises(DataFormatError, match="expected one CSV"):
        rows_of(path)


def test_bad_crc_is_a_corrupt_download(tmp_path):
    path = make_zip(
        tmp_path, [["ac_1", "2024-01-02", "churn", "d", "1", "1", "12"]], method=zipfile.ZIP_STORED
    )
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"ac_1")] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptDownloadError, match="corrupt zip"):
        extracted(path)
    with pytest.raises(CorruptDownloadError):
        rows_of(path)


def test_large_export_streams_with_flat_memory(tmp_path):
    rows = (
        [f"ac_{i}", "2024-01-02T00:00:00Z", "new_biz", "x" * 100, "100", "100", "1200"]
        for i in range(200_000)
    )
    path = make_zip(tmp_path, rows)
    tracemalloc.start()
    csv_path, where = extracted(path)
    count = sum(1 for _ in iter_csv_rows(csv_path, where=where))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 200_000
    assert peak < 20 * 2**20


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T10:32:27+00:00", "2024-01-01T10:32:27+00:00"),  # as is (fast path)
        ("2024-01-01 10:32:27+00:00", "2024-01-01T10:32:27+00:00"),  # same length, other form
        ("2024-01-01T10:32:27Z", "2024-01-01T10:32:27+00:00"),
        ("2024-01-01T10:32:27", "2024-01-01T10:32:27+00:00"),  # no zone: UTC
        ("2024-01-01T10:32:27.5+00:00", "2024-01-01T10:32:27.500000+00:00"),
        ("2024-01-01T10:32:27+02:00", "2024-01-01T10:32:27+02:00"),
        ("2024-01-01", "2024-01-01T00:00:00+00:00"),
        ("2024-02-30T10:32:27+00:00", ValueError),  # right shape, no such day
        ("2024-01-01T24:00:00+00:00", ValueError),
    ],
)
def test_dates_become_iso_date_times(value, expected):
    if expected is ValueError:
        with pytest.raises(ValueError):
            _date_time(value)
    else:
        assert _date_time(value) == expected


TRICKY_ROWS = [
    ["ac_1", "2024-01-01T00:00:00Z", "churn", 'he said "hi"\nthen left', "1", "", "12"],
    ["ac_2", "2024-01-01T00:00:00Z", "churn", "", "", "", ""],
    ["ac_3", "2024-01-01T00:00:00Z", "churn", "a,b\r\nc", "3", "3", "36"],
    ["ac_4", "2024-01-01T00:00:00Z", "churn", '"', "4", "4", "48"],
    ["ac_5", "2024-01-01T00:00:00Z", "churn", "株式会社 ✅", "5", "5", "60"],
]


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_row_ranges_cut_between_rows_only(tmp_path, size):
    rows = [[f"{r[0]}_{i}", *r[1:]] for i in range(40) for r in TRICKY_ROWS]
    csv_path, where = extracted(make_zip(tmp_path, rows, bom=True))
    start, header = read_header(csv_path)
    assert header == HEADER  # the BOM is not part of the first column's name
    ranges = list(row_ranges(csv_path, start, size))
    assert ranges[0][0] == start
    assert ranges[-1][1] == csv_path.stat().st_size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    if size < 64:
        assert len(ranges) > 10
    framing = Framing(b"<", b">\n<", b">\n")
    fields = ("uuid", "date", "extra")
    by_range = b""
    for begin, end in ranges:
        task = CsvRange(str(csv_path), begin, end, header, fields, framing, str(tmp_path))
        by_range += b"".join(
            data for _c, data, _u in read_blocks(Spool.adopt(*frame_csv_range(task)))
        )
    whole = frame_records(iter_csv_rows(csv_path, where=where), fields, framing)
    assert by_range == b"".join(data for _count, data, _unknown in whole)
    assert by_range.count(b"<") == len(rows)


def test_a_quote_in_the_header_means_reading_in_one_pass(tmp_path):
    csv_path, _ = extracted(make_zip(tmp_path, [], header=['"uuid"', "date"]))
    assert read_header(csv_path) is None
    csv_path, _ = extracted(make_zip(tmp_path, [], header=None))
    assert read_header(csv_path) is None


def test_a_range_with_a_bad_row_fails_with_a_row_error(tmp_path):
    rows = [["ac_1", "2024-01-01T00:00:00Z", "churn", "d", "x", "1", "12"]]
    csv_path, _ = extracted(make_zip(tmp_path, rows))
    start, header = read_header(csv_path)
    task = CsvRange(str(csv_path), start, csv_path.stat().st_size, header, (), LINES, None)
    with pytest.raises(CsvRowError, match="column 'activity-mrr-movement'"):
        frame_csv_range(task)


class InThreadWorkers(WorkerPool):
    """The worker-process path of ChartMogulClient.record_blocks, run in this thread."""

    uses_processes = True


def client_over(monkeypatch, csv_path, where):
    from tap_activities.settings import parse_settings
    from tap_activities.sources.chartmogul.client import ChartMogulClient
    from tap_activities.sources.registry import SOURCES

    settings = parse_settings({"start_date": "2024-01-01", "chartmogul_api_key": "k"}, SOURCES)
    client = ChartMogulClient(settings.sources["chartmogul"], settings, InThreadWorkers())
    monkeypatch.setattr(client, "_csv_files", lambda _job, _request: iter([(csv_path, where)]))
    monkeypatch.setattr(chartmogul_csv, "RANGE_BYTES", 64)
    return client


def framed_by_client(client, fields, framing):
    return b"".join(data for _c, data, _u in client.record_blocks(None, None, fields, framing))


def test_a_stray_quote_that_misleads_the_cutting_still_gives_every_row(tmp_path, monkeypatch):
    # An unquoted field with a quote in it: valid for the csv module, but it flips the
    # quote count, so a newline inside the next quoted field looks like a row end.
    good = "ac_{n},2024-01-01T00:00:00Z,churn,plain,1,1,12\r\n"
    raw = ",".join(HEADER) + "\r\n" + "".join(good.format(n=n) for n in range(5))
    raw += 'ac_x,2024-01-01T00:00:00Z,churn,5" screen,1,1,12\r\n'
    raw += "".join(
        f'ac_q{n},2024-01-01T00:00:00Z,churn,"line one\r\n{"x" * 80}\r\nline three",1,1,12\r\n'
        for n in range(5)
    )
    csv_path, where = extracted(make_zip(tmp_path, [], raw=raw.encode()))
    start, _ = read_header(csv_path)
    assert len(list(row_ranges(csv_path, start, 64))) > 3
    fields, framing = ("uuid", "extra"), LINES
    client = client_over(monkeypatch, csv_path, where)
    whole = frame_records(iter_csv_rows(csv_path, where=where), fields, framing)
    out = framed_by_client(client, fields, framing)
    assert out == b"".join(data for _count, data, _unknown in whole)
    assert out.count(b"\n") == 11


def test_a_bad_row_in_a_range_is_reported_with_the_files_own_numbers(tmp_path, monkeypatch):
    rows = [[f"ac_{n}", "2024-01-01T00:00:00Z", "churn", "d", "1", "1", "12"] for n in range(30)]
    rows[20][4] = "12.5"
    csv_path, where = extracted(make_zip(tmp_path, rows))
    client = client_over(monkeypatch, csv_path, where)
    with pytest.raises(CsvRowError) as in_ranges:
        framed_by_client(client, ("uuid",), LINES)
    with pytest.raises(CsvRowError) as one_pass:
        list(iter_csv_rows(csv_path, where=where))
    assert str(in_ranges.value) == str(one_pass.value)
    assert "row 21 (line 22)" in str(in_ranges.value)
