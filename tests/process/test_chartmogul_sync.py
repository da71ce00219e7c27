"""The tap as a process against the local ChartMogul upstream: typed rows, look-back, no leak."""

from __future__ import annotations

import base64
import datetime as dt

from activities_upstream import LocalUpstream
from tests.kit.tap_process import run_tap
from tests.kit.upstream import END, START, chartmogul_config, fast_upstream_config

TYPES = ("new_biz", "expansion", "contraction", "churn", "reactivation")
MONEY = {"activity-mrr-movement", "activity-mrr", "activity-arr"}


def typed(row: dict[str, str]) -> dict:
    """What the tap must make of a CSV row: snake_case names, cents as int, empty as null."""
    out = {}
    for name, value in row.items():
        key = name.replace("-", "_")
        if value == "":
            out[key] = None
        elif name in MONEY:
            out[key] = int(value)
        else:
            out[key] = value
    return out


def check_rows(run, up, start, end):
    for kind in TYPES:
        want = {r["uuid"]: typed(r) for r in up.chartmogul.rows(kind, start, end)}
        got = run.records.get(f"chartmogul_{kind}", [])
        assert want, f"the upstream generated no {kind} rows"
        assert len(got) == len({r["uuid"] for r in got}), f"{kind}: a row arrived twice"
        assert {r["uuid"] for r in got} == set(want)
        for record in got:
            expected = want[record["uuid"]]
            for key, value in expected.items():
                assert record[key] == value, (kind, key, record[key], value)
            assert isinstance(record["activity_mrr"], int)


def test_every_activity_arrives_typed_and_the_key_never_reaches_the_file_host(upstream, tmp_path):
    run = run_tap(chartmogul_config(upstream), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    check_rows(run, upstream, START, END)
    assert set(run.records) == {f"chartmogul_{k}" for k in TYPES}
    assert upstream.violations == []
    file_requests = [r for r in upstream.requests_log if r.host == "files"]
    assert file_requests, "no file was downloaded"
    key_b64 = base64.b64encode(f"{upstream.chartmogul_api_key}:".encode()).decode()
    for request in file_requests:
        assert "Authorization" not in request.headers
        assert upstream.chartmogul_api_key not in str(request.headers)
        assert key_b64 not in str(request.headers)
    # the unknown CSV column passes through as a string
    assert any(r.get("custom_note") for r in run.records["chartmogul_churn"])
    assert upstream.chartmogul_api_key not in run.stderr


def test_incremental_run_re_exports_only_the_look_back(upstream, tmp_path):
    first = run_tap(chartmogul_config(upstream), tmp_path / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.bookmarks("chartmogul_churn")["bookmark"] == END.isoformat()
    before = len(upstream.chartmogul.exports())
    later = END + dt.timedelta(days=10)
    upstream.chartmogul.mutate(END, new=5, changed=5)
    second = run_tap(
        chartmogul_config(upstream, end_date=later.isoformat(), chartmogul_lookback_days=3),
        tmp_path / "second",
        state=first.state,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    new_exports = upstream.chartmogul.exports()[before:]
    assert len(new_exports) == len(TYPES)
    for export in new_exports:
        assert export["params"]["params"]["start_date"].startswith(
            (END - dt.timedelta(days=3)).isoformat()
        )
    check_rows(second, upstream, END - dt.timedelta(days=3), later)
    descriptions = [r["description"] or "" for rs in second.records.values() for r in rs]
    assert any("(recomputed)" in d for d in descriptions)


def test_successful_is_accepted_as_the_document_writes_it(tmp_path):
    with LocalUpstream(
        fast_upstream_config(chartmogul_success_word="successful", chartmogul_bom=True)
    ) as up:
        run = run_tap(chartmogul_config(up), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        check_rows(run, up, START, END)
        assert {e["status"] for e in up.chartmogul.exports()} == {"successful"}


def test_history_longer_than_a_year_is_cut_into_yearly_windows(tmp_path):
    with LocalUpstream(fast_upstream_config(start=dt.date(2022, 6, 1), chartmogul_per_day=1)) as up:
        run = run_tap(chartmogul_config(up, start_date="2022-06-01"), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        check_rows(run, up, dt.date(2022, 6, 1), END)
        windows = {
            (e["params"]["params"]["start_date"][:10], e["params"]["params"]["end_date"][:10])
            for e in up.chartmogul.exports()
        }
        assert windows == {("2022-06-01", "2023-05-31"), ("2023-06-01", "2024-02-20")}
