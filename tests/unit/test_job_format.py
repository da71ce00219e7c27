"""How each upstream's job objects are read: the states they map to, and the words of a misfit."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tap_activities.errors import UpstreamError
from tap_activities.export.status import ExportStatus, body_time
from tap_activities.sources.chartmogul.client import EXPORTS
from tap_activities.sources.peopleai.client import JOBS


def answer(body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response._content = body
    response.status_code = 200
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    ("jobs", "body", "job_id", "status", "message"),
    [
        (JOBS, {"job_id": 7, "state": " Cancelled "}, "7", ExportStatus.CANCELED, None),
        (
            JOBS,
            {"job_id": "a", "state": "failed", "error": "disk"},
            "a",
            ExportStatus.FAILED,
            "disk",
        ),
        (EXPORTS, {"id": "e", "status": "successful"}, "e", ExportStatus.COMPLETED, None),
        (EXPORTS, {"id": "e", "status": "pending", "message": "m"}, "e", ExportStatus.QUEUED, "m"),
    ],
)
def test_a_job_object_becomes_a_snapshot(jobs, body, job_id, status, message):
    job = jobs.snapshot(body)
    assert (job.job_id, job.status, job.message, job.body) == (job_id, status, message, body)


@pytest.mark.parametrize(
    ("jobs", "body", "error"),
    [
        (
            JOBS,
            ["not", "a", "job"],
            "People.ai answered something that is not a job (no 'job_id'); "
            "is 'peopleai_api_url' right?",
        ),
        (JOBS, {"job_id": "j", "state": "paused"}, "People.ai job j has an unknown state 'paused'"),
        (
            EXPORTS,
            {"status": "pending"},
            "ChartMogul answered something that is not an export (no 'id'); "
            "is 'chartmogul_api_url' right?",
        ),
        (
            EXPORTS,
            {"id": "e", "status": ""},
            "ChartMogul export e has an unknown status ''",
        ),
    ],
)
def test_what_is_no_job_is_one_line_naming_the_setting(jobs, body, error):
    with pytest.raises(UpstreamError) as caught:
        jobs.snapshot(body)
    assert str(caught.value) == error


def test_an_answer_that_is_not_json_names_the_setting_and_for_people_ai_its_type():
    html = answer(b"<html>", "text/html")
    with pytest.raises(UpstreamError) as people_ai:
        JOBS.read(html)
    assert str(people_ai.value) == (
        "People.ai answered something that is not JSON (Content-Type text/html); "
        "is 'peopleai_api_url' the People.ai API?"
    )
    with pytest.raises(UpstreamError) as chartmogul:
        EXPORTS.read(html)
    assert str(chartmogul.value) == (
        "ChartMogul answered something that is not JSON; "
        "is 'chartmogul_api_url' the ChartMogul API?"
    )


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-01-31T05:00:00Z", dt.datetime(2024, 1, 31, 5, tzinfo=dt.timezone.utc)),
        ("2024-01-31T05:00:00", dt.datetime(2024, 1, 31, 5, tzinfo=dt.timezone.utc)),
        (
            "2024-01-31T06:00:00+01:00",
            dt.datetime(2024, 1, 31, 6, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        ),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_times_in_a_job_body_are_utc_unless_they_say_otherwise(value, moment):
    assert body_time(value) == moment
