import datetime as dt
from decimal import Decimal

import pytest

from tap_activities.errors import ConfigError
from tap_activities.settings import parse_settings
from tap_activities.sources.registry import SOURCES

BASE = {"start_date": "2024-01-01", "peopleai_client_id": "id", "peopleai_client_secret": "secret"}
TODAY = dt.date(2024, 3, 1)


def parse(**overrides):
    return parse_settings({**BASE, **overrides}, SOURCES, today=TODAY)


def test_defaults():
    s = parse()
    assert s.end_date == TODAY
    assert s.poll_interval_seconds == 30.0
    assert s.sources["peopleai"].api_url == "https://api.people.ai"
    assert "chartmogul" not in s.sources


@pytest.mark.parametrize("value", [Decimal("0.05"), "0.05", 0.05])
def test_numbers_from_decimal_string_or_float(value):
    assert parse(poll_interval_seconds=value).poll_interval_seconds == 0.05


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"start_date": "2024-13-01"}, "'start_date' is not a valid date"),
        ({"start_date": ""}, "'start_date' is required"),
        ({"end_date": "2023-12-31"}, "'end_date' (2023-12-31) is before 'start_date'"),
        ({"poll_interval_seconds": "fast"}, "'poll_interval_seconds' must be a number"),
        ({"poll_interval_seconds": -1}, "'poll_interval_seconds' must be a number >= 0, got -1"),
        ({"peopleai_client_secret": ""}, "'peopleai_client_secret' is required"),
        ({"peopleai_api_url": "http://api.example.com"}, "plain http on a non-loopback host"),
        ({"peopleai_api_url": "ftp://x"}, "must be an http(s) URL"),
        ({"peopleai_client_id": "", "peopleai_client_secret": ""}, "No source configured"),
        # Values as the user wrote them, never a Python repr such as Decimal('1.5').
        (
            {"download_workers": Decimal("1.5")},
            "'download_workers' must be a whole number, got 1.5",
        ),
        ({"download_workers": "four"}, "'download_workers' must be a whole number, got \"four\""),
        ({"download_workers": True}, "'download_workers' must be a whole number, got true"),
        (
            {"chartmogul_api_key": "k", "chartmogul_lookback_days": 400},
            "must be a whole number >= 0 and <= 365, got 400",
        ),
        ({"start_date": 31}, "'start_date' is not a valid date: 31 (expected"),
    ],
)
def test_bad_settings_give_one_line_naming_the_setting(overrides, needle):
    with pytest.raises(ConfigError) as caught:
        parse(**overrides)
    message = str(caught.value)
    assert needle in message
    assert "\n" not in message
    assert "secret" not in message.replace("client_secret", "")  # the value never leaks
    assert "Decimal(" not in message


def test_loopback_http_is_allowed():
    assert (
        parse(peopleai_api_url="http://127.0.0.1:8080/").sources["peopleai"].api_url
        == "http://127.0.0.1:8080"
    )
    assert (
        parse(peopleai_api_url="http://localhost:1").sources["peopleai"].api_url
        == "http://localhost:1"
    )


def test_date_time_values_are_accepted_as_dates():
    assert parse(start_date="2024-01-01T00:00:00Z").start_date == dt.date(2024, 1, 1)
