"""The local upstream itself behaves as the API documents say (it is what every test trusts)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import zipfile

import orjson
import pytest
import requests

from activities_upstream import LocalUpstream
from tests.kit.upstream import fast_upstream_config

JOBS = "/pull/v1/export/activities/jobs"


@pytest.fixture
def up():
    with LocalUpstream(fast_upstream_config(fragment_records=10)) as upstream:
        yield upstream


def token(up) -> dict:
    r = requests.post(
        up.peopleai_url + "/auth/v1/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": up.peopleai_client_id,
            "client_secret": up.peopleai_client_secret,
        },
        timeout=5,
    )
    assert r.status_code == 200
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def create(up, headers, **body):
    payload = {
        "start_date": "2024-01-01",
        "end_date": "2024-01-14",
        "activity_type": "email",
        "output_format": "JSONLines",
        "export_type": "delta",
    }
    payload.update(body)
    return requests.post(up.peopleai_url + JOBS, json=payload, headers=headers, timeout=5)


def wait_until(condition, what: str, limit: float = 60):
    """Poll ``condition()`` until it is truthy (its value) or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} within {limit} s")


def wait_completed(up, headers, job_id):
    def completed():
        job = requests.get(f"{up.peopleai_url}{JOBS}/{job_id}", headers=headers, timeout=5).json()
        return job if job["state"] == "Completed" else None

    return wait_until(completed, "job never completed")


def test_token_required_and_wrong_credentials_refused(up):
    assert requests.get(up.peopleai_url + JOBS, timeout=5).status_code == 401
    r = requests.post(
        up.peopleai_url + "/auth/v1/tokens",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        timeout=5,
    )
    assert r.status_code == 401


def test_token_expires(tmp_path):
    # About time, so with generous bounds: valid at once, refused once its 2 s are over.
    with LocalUpstream(fast_upstream_config(token_ttl_seconds=2.0)) as up:
        issued = time.monotonic()
        headers = token(up)

        def status() -> int:
            return requests.get(up.peopleai_url + JOBS, headers=headers, timeout=5).status_code

        assert status() == 200
        wait_until(lambda: status() == 401, "the token never expired")
        assert time.monotonic() - issued >= 2.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"export_type": "delta", "end_date": "2024-01-15"}, "14 days"),
        ({"export_type": "snapshot", "end_date": "2025-01-01"}, "1 year"),
        ({"end_date": "2023-12-31"}, "before"),
        ({"activity_type": "sms"}, "activityType"),
        ({"export_type": "full"}, "exportType"),
        ({"start_date": "01/01/2024"}, "yyyy-MM-dd"),
    ],
)
def test_range_and_parameter_validation(up, body, message):
    r = create(up, token(up), **body)
    assert r.status_code == 400
    assert message in r.json()["message"]


def test_limits_two_running_ten_queued(up):
    headers = token(up)
    up.faults.stall_jobs(10)
    ids = [create(up, headers).json()["job_id"] for _ in range(10)]
    assert create(up, headers).status_code == 429

    def states() -> list[str]:
        return [
            requests.get(f"{up.peopleai_url}{JOBS}/{i}", headers=headers, timeout=5).json()["state"]
            for i in ids
        ]

    # Jobs leave Queued after queue_seconds: wait for two to run, then no third may.
    wait_until(lambda: states().count("Running") == 2, "two jobs never ran")
    now = states()
    assert now.count("Running") == 2
    assert now.count("Queued") == 8


def test_fragments_concatenate_to_the_whole_export(up):
    headers = token(up)
    job = wait_completed(up, headers, create(up, headers).json()["job_id"])
    assert job["fragment"] >= 2
    base = f"{up.peopleai_url}{JOBS}/{job['job_id']}"
    whole = requests.get(base + "/data", headers=headers, timeout=5).content
    parts = [
        requests.get(base + "/data", params={"fragment": i}, headers=headers, timeout=5).content
        for i in range(job["fragment"] + 1)
    ]
    assert b"".join(parts) == whole
    assert len(whole) == job["results_size"]
    assert (
        requests.get(
            base + "/data", params={"fragment": job["fragment"] + 1}, headers=headers, timeout=5
        ).status_code
        == 404
    )
    records = [orjson.loads(line) for line in whole.splitlines()]
    expected = up.peopleai.records(
        "email", dt.date(2024, 1, 1), dt.date(2024, 1, 14), by="processed"
    )
    assert sorted(r["uid"] for r in records) == sorted(r["uid"] for r in expected)


def test_snapshot_selects_by_activity_date_delta_by_processed_date(up):
    start, end = dt.date(2024, 1, 10), dt.date(2024, 1, 20)
    snapshot = up.peopleai.records("call", start, end, by="activity")
    delta = up.peopleai.records("call", start, end, by="processed")
    assert all(start.isoformat() <= r["timestamp"][:10] <= end.isoformat() for r in snapshot)
    assert all(start.isoformat() <= r["ingest_timestamp"][:10] <= end.isoformat() for r in delta)
    assert {r["uid"] for r in snapshot} != {r["uid"] for r in delta}  # late processing exists


def test_same_seed_same_bytes():
    with LocalUpstream(fast_upstream_config()) as a, LocalUpstream(fast_upstream_config()) as b:
        args = ("meeting", dt.date(2024, 1, 1), dt.date(2024, 2, 1))
        assert orjson.dumps(a.peopleai.records(*args)) == orjson.dumps(b.peopleai.records(*args))


@pytest.mark.breaks_upstream_rules
def test_chartmogul_export_file_host_refuses_credentials_and_expires(up):
    auth = (up.chartmogul_api_key, "")
    created = requests.post(
        up.chartmogul_url + "/v1/activities_export",
        data={"type": "churn", "start-date": "2024-01-01", "end-date": "2024-01-31"},
        auth=auth,
        timeout=5,
    )
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert (
        requests.post(
            up.chartmogul_url + "/v1/activities_export", data={"type": "churn"}, timeout=5
        ).status_code
        == 401
    )
    export = chartmogul_finished(up, created.json()["id"])
    assert export["status"] == "succeeded"
    assert export["file_url"].startswith(up.files_url)
    assert export["expires_at"]
    assert requests.get(export["file_url"], auth=auth, timeout=5).status_code == 400
    assert up.violations
    up.violations.clear()
    assert requests.get(export["file_url"], timeout=5).status_code == 200
    up.faults.expire_files_early = True
    assert requests.get(export["file_url"], timeout=5).status_code == 403


def test_injected_http_faults_count_down(up):
    headers = token(up)
    up.faults.http_error("peopleai.list", 503, times=2, retry_after=1)
    first = requests.get(up.peopleai_url + JOBS, headers=headers, timeout=5)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "1"
    assert requests.get(up.peopleai_url + JOBS, headers=headers, timeout=5).status_code == 503
    assert requests.get(up.peopleai_url + JOBS, headers=headers, timeout=5).status_code == 200


def test_truncated_download_is_a_short_read(up):
    headers = token(up)
    job = wait_completed(up, headers, create(up, headers).json()["job_id"])
    up.faults.truncate_download()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = requests.get(
            f"{up.peopleai_url}{JOBS}/{job['job_id']}/data", headers=headers, timeout=5
        ).content


def chartmogul_export(up, **body) -> dict:
    """Create a ChartMogul export and wait until it leaves pending/processing."""
    auth = (up.chartmogul_api_key, "")
    payload = {"type": "churn", "start-date": "2024-01-01", "end-date": "2024-01-31", **body}
    created = requests.post(
        up.chartmogul_url + "/v1/activities_export", data=payload, auth=auth, timeout=5
    )
    return chartmogul_finished(up, created.json()["id"])


def chartmogul_finished(up, export_id: str) -> dict:
    """The export once it has left pending/processing."""
    auth = (up.chartmogul_api_key, "")

    def finished() -> dict | None:
        export = requests.get(
            f"{up.chartmogul_url}/v1/activities_export/{export_id}", auth=auth, timeout=5
        ).json()
        return None if export["status"] in {"pending", "processing"} else export

    return wait_until(finished, "export never finished")


def test_window_scoped_job_faults_hit_only_that_window(up):
    headers = token(up)
    up.faults.fail_jobs(times=5, start_date="2024-01-15")
    ok = wait_completed(up, headers, create(up, headers).json()["job_id"])
    assert ok["state"] == "Completed"
    failing = create(up, headers, start_date="2024-01-15", end_date="2024-01-28").json()

    def ended() -> dict | None:
        job = requests.get(
            f"{up.peopleai_url}{JOBS}/{failing['job_id']}", headers=headers, timeout=5
        ).json()
        return job if job["state"] in {"Completed", "Failed"} else None

    assert wait_until(ended, "the job never ended")["state"] == "Failed"


def test_lost_create_answer_still_creates_the_job(up):
    headers = token(up)
    up.faults.lose_create_response()
    with pytest.raises(requests.ConnectionError):
        create(up, headers)
    listed = requests.get(up.peopleai_url + JOBS, headers=headers, timeout=5).json()["jobs"]
    assert len(listed) == 1
    assert listed[0]["start_date"] == "2024-01-01"


def test_chartmogul_expiry_failure_and_bad_row_faults(up):
    up.faults.expired_urls()
    export = chartmogul_export(up)
    assert export["status"] == "succeeded"
    assert export["expires_at"] <= dt.datetime.now(dt.timezone.utc).isoformat()
    assert requests.get(export["file_url"], timeout=5).status_code == 403

    up.faults.expire_files()
    export = chartmogul_export(up)
    assert requests.get(export["file_url"], timeout=5).status_code == 403  # early expiry
    assert requests.get(export["file_url"], timeout=5).status_code == 200

    up.faults.fail_exports()
    assert chartmogul_export(up)["status"] == "failed"

    up.faults.bad_csv_row()
    export = chartmogul_export(up)
    with zipfile.ZipFile(io.BytesIO(requests.get(export["file_url"], timeout=5).content)) as z:
        rows = list(csv.reader(io.StringIO(z.read(z.namelist()[0]).decode("utf-8"))))
    assert len({len(row) for row in rows}) == 2  # one row has a stray field


def test_hold_keeps_a_call_until_released(up):
    import threading

    hold = up.faults.hold("peopleai.token", skip=1)
    token(up)  # skipped
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("headers", token(up)))
    thread.start()
    assert hold.reached.wait(timeout=10)
    assert "headers" not in result
    hold.release.set()
    thread.join(timeout=10)
    assert "headers" in result


@pytest.mark.breaks_upstream_rules
def test_requests_the_documents_do_not_allow_are_refused_and_recorded(up):
    headers = token(up)
    assert up.violations == []
    # People.ai: JSON only, the five documented parameters only.
    form = requests.post(
        up.peopleai_url + JOBS,
        data={"start_date": "2024-01-01"},
        headers=headers,
        timeout=5,
    )
    assert form.status_code == 400
    assert "application/json" in form.json()["message"]
    extra = create(up, headers, page_size=10)
    assert extra.status_code == 400
    assert "page_size" in extra.json()["message"]
    # ChartMogul: form or JSON (both documented), hyphenated parameters only.
    auth = (up.chartmogul_api_key, "")
    url = up.chartmogul_url + "/v1/activities_export"
    for body in ({"data": {"type": "churn"}}, {"json": {"type": "churn"}}):
        assert requests.post(url, auth=auth, timeout=5, **body).status_code == 201
    snake = requests.post(
        url, json={"type": "churn", "start_date": "2024-01-01"}, auth=auth, timeout=5
    )
    assert snake.status_code == 422
    assert snake.json()["param"] == "start_date"
    assert len(up.violations) == 3, up.violations
    # Credentials at the wrong API are answered as before, and recorded.
    requests.get(url + "/x", headers=headers, timeout=5)
    requests.get(up.peopleai_url + JOBS, auth=auth, timeout=5)
    assert len(up.violations) == 5, up.violations
    assert "bearer token at ChartMogul" in up.violations[3]
    assert "Basic key at People.ai" in up.violations[4]


@pytest.mark.breaks_upstream_rules
def test_the_curl_examples_fragment_path_answers_but_is_a_violation(up):
    headers = token(up)
    job = wait_completed(up, headers, create(up, headers).json()["job_id"])
    base = f"{up.peopleai_url}{JOBS}/{job['job_id']}"
    via_data = requests.get(base + "/data", params={"fragment": 0}, headers=headers, timeout=5)
    assert up.violations == []
    via_fragment = requests.get(
        base + "/fragment", params={"fragment": 0}, headers=headers, timeout=5
    )
    assert via_fragment.content == via_data.content
    assert len(up.violations) == 1
    assert "/data?fragment=N" in up.violations[0]


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({}, "fragment", "highest index"),
        ({"fragment_is_count": True}, "fragment", "count"),
        ({"fragment_field": "fragments", "fragment_is_count": True}, "fragments", "count"),
        ({"fragment_field": None}, None, None),
        ({"reports_results_size": False}, "fragment", "highest index"),
    ],
)
def test_job_fragment_fields_in_each_mode(overrides, field, value):
    with LocalUpstream(fast_upstream_config(fragment_records=10, **overrides)) as up:
        headers = token(up)
        job = wait_completed(up, headers, create(up, headers).json()["job_id"])
        base = f"{up.peopleai_url}{JOBS}/{job['job_id']}"
        whole = requests.get(base + "/data", headers=headers, timeout=5).content
        count = -(-len(whole.splitlines()) // 10)
        assert count >= 2
        others = {"fragment", "fragments"} - {field}
        assert not others & set(job), job
        if field is not None:
            assert job[field] == (count if value == "count" else count - 1)
        if overrides.get("reports_results_size", True):
            assert job["results_size"] == len(whole)
        else:
            assert "results_size" not in job


def test_a_lost_fragment_answers_404_though_the_job_lists_it():
    with LocalUpstream(fast_upstream_config(fragment_records=10, missing_fragment=-1)) as up:
        headers = token(up)
        job = wait_completed(up, headers, create(up, headers).json()["job_id"])
        base = f"{up.peopleai_url}{JOBS}/{job['job_id']}/data"
        last = job["fragment"]
        for index, status in ((last, 404), (last - 1, 200)):
            answer = requests.get(base, params={"fragment": index}, headers=headers, timeout=5)
            assert answer.status_code == status
        assert len(requests.get(base, headers=headers, timeout=5).content) == job["results_size"]
