"""The zipped-CSV reader on hand-made exports: edge cases, errors, unsafe zips, memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile

import pytest

from tap_activities.chartmogul_csv import (
    CsvRowError,
    _date_time,
    iter_activity_rows,
    normalise_column,
    verify_zip,
)
from tap_activities.errors import CorruptDownloadError, DataFormatError, UnsafeArchiveError

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


def rows_of(path):
    return list(iter_activity_rows(path, display_name="export.zip"))


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


def test_unsafe_members_are_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="unsafe path"):
        rows_of(make_zip(tmp_path, [], name="../../etc/evil.csv"))


def test_zip_bomb_ratio_is_refused(tmp_path):
    path = make_zip(tmp_path, [], raw=b"uuid\r\n" + b"a" * 5_000_000)
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        verify_zip(path)


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
        verify_zip(path)
    with pytest.raises(CorruptDownloadError):
        rows_of(path)


def test_large_export_streams_with_flat_memory(tmp_path):
    rows = (
        [f"ac_{i}", "2024-01-02T00:00:00Z", "new_biz", "x" * 100, "100", "100", "1200"]
        for i in range(200_000)
    )
    path = make_zip(tmp_path, rows)
    tracemalloc.start()
    count = sum(1 for _ in iter_activity_rows(path, display_name="big.zip"))
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
