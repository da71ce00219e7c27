"""Secrets: canary credentials never appear in logs (debug level), state, records or errors.

The upstream is configured with unmistakable canary credentials; every bearer token it
issues and every file signature it signs are secrets too. The tap runs at debug level
(``--log-level debug`` or ``TAP_ACTIVITIES_LOGLEVEL=DEBUG``: urllib3 then logs every
request line) through faults
that make it log warnings and errors, and nothing secret may show up anywhere it writes.
Credentials must only travel to their own host.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from activities_upstream import LocalUpstream
from tap_activities.redact import REDACTED, SecretRedactor, install
from tap_activities.settings import parse_settings
from tap_activities.sources.registry import SOURCES
from tests.kit.faultkit import assert_exactly, chartmogul_ids, peopleai_ids
from tests.kit.tap_process import run_tap
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config

CANARIES = {
    "peopleai_client_id": "canary-client-id-7f3a9c",
    "peopleai_client_secret": "canary-client-secret-b81e44d2",
    "chartmogul_api_key": "canary-chartmogul-key-5d0c6e19",
}
DEBUG = {"TAP_ACTIVITIES_LOGLEVEL": "DEBUG"}


@pytest.fixture
def canary_upstream():
    with LocalUpstream(fast_upstream_config(**CANARIES)) as up:
        yield up
        assert not up.faults.unfired(), f"faults armed that never fired: {up.faults.unfired()}"


def secrets_of(up) -> list[str]:
    """Canary credentials, their Basic form, issued tokens and file URL signatures."""
    found = [*CANARIES.values(), *up.peopleai.issued_tokens()]
    found.append(basic_form(CANARIES["chartmogul_api_key"]))
    for export in up.chartmogul.exports():
        if export["file_url"]:
            found.extend(parse_qs(urlsplit(export["file_url"]).query)["X-Amz-Signature"])
    assert len(found) > len(CANARIES) + 2, "no token or signature issued: nothing tested"
    return found


def basic_form(key: str) -> str:
    """The ChartMogul key as it travels: the user name of HTTP Basic, base64-encoded."""
    return base64.b64encode(f"{key}:".encode()).decode()


def assert_nothing_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {secret[:6]}…"


def both_sources(up, **overrides) -> dict:
    return {**peopleai_config(up), **chartmogul_config(up), **overrides}


def test_debug_logs_state_and_records_hold_no_secret(canary_upstream, tmp_path):
    up = canary_upstream
    # Faults that make the tap renew a token, retry and re-export, so it logs about them.
    up.faults.http_error("peopleai.status", 401)
    up.faults.http_error("peopleai.data", 500)
    up.faults.expire_files(times=1)
    up.faults.reset_connection("files.get")
    run = run_tap(both_sources(up), tmp_path, args=("--log-level", "debug"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| DEBUG" in run.stderr  # debug logging was on
    assert "urllib3.connectionpool" in run.stderr
    assert "X-Amz-Signature" not in run.stderr
    assert_exactly(run.records, {**peopleai_ids(up), **chartmogul_ids(up)})
    secrets = secrets_of(up)
    assert_nothing_secret(run.stderr, secrets)
    assert_nothing_secret(repr(run.states) + repr(dict(run.records)), secrets)


def test_credentials_go_only_to_their_own_host(canary_upstream, tmp_path):
    up = canary_upstream
    run = run_tap(both_sources(up), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    basic = basic_form(CANARIES["chartmogul_api_key"])
    tokens = up.peopleai.issued_tokens()
    hosts = {r.host for r in up.requests_log}
    assert hosts == {"peopleai", "chartmogul", "files"}
    for request in up.requests_log:
        headers = repr(request.headers)
        if request.host != "chartmogul":
            assert basic not in headers, f"ChartMogul key sent to {request.host}"
        if request.host != "peopleai":
            assert not any(token in headers for token in tokens), f"token sent to {request.host}"
        if request.host == "files":
            assert "Authorization" not in request.headers
            assert "Cookie" not in request.headers
    assert up.violations == []


@pytest.mark.parametrize(
    ("name", "arm", "overrides", "needle"),
    [
        ("wrong-secret", None, {"peopleai_client_secret": "canary-wrong-secret-99"}, "refused"),
        ("wrong-key", None, {"chartmogul_api_key": "canary-wrong-key-42"}, "refused"),
        ("file-url-keeps-expiring", lambda f: f.expire_files(times=1000), {}, "no longer"),
        ("file-host-keeps-failing", lambda f: f.http_error("files.get", 503, 1000), {}, "503"),
    ],
    ids=["wrong-secret", "wrong-key", "file-url-keeps-expiring", "file-host-keeps-failing"],
)
def test_errors_hold_no_secret(canary_upstream, tmp_path, name, arm, overrides, needle):
    up = canary_upstream
    if arm is not None:
        arm(up.faults)
    config = both_sources(up, max_retry_seconds=0.5, **overrides)
    run = run_tap(config, tmp_path, env=DEBUG)
    assert run.returncode != 0
    errors = run.cli_errors
    assert len(errors) == 1, run.stderr[-3000:]
    assert needle in errors[0]
    secrets = [*secrets_of_errors(up), *overrides.values()]
    secrets += [basic_form(v) for k, v in overrides.items() if k == "chartmogul_api_key"]
    assert_nothing_secret(run.stderr, secrets)
    assert_nothing_secret(repr(run.states), secrets)


def secrets_of_errors(up) -> list[str]:
    """Like :func:`secrets_of`, for runs that may have stopped before any file was signed."""
    found = [*CANARIES.values(), *up.peopleai.issued_tokens()]
    found.append(basic_form(CANARIES["chartmogul_api_key"]))
    for export in up.chartmogul.exports():
        if export["file_url"]:
            found.extend(parse_qs(urlsplit(export["file_url"]).query)["X-Amz-Signature"])
    return found


def test_redactor_removes_known_values_and_query_strings():
    redactor = SecretRedactor()
    redactor.add("s3cr3t-value", "", None, "ab")  # empty and too short values are ignored
    text = redactor.redact(
        'GET https://bucket.s3.amazonaws.com/a.zip?X-Amz-Signature=abc&X-Amz-Expires=60 "x" '
        "key s3cr3t-value and czNjcjN0LXZhbHVlOg== is it right?"
    )
    assert "abc" not in text
    assert "s3cr3t" not in text
    assert "czNjcjN0LXZhbHVlOg==" not in text
    assert f"a.zip?{REDACTED}" in text
    assert text.endswith("is it right?")  # a question mark alone is not a query string


def test_log_records_are_redacted_when_created(caplog):
    from tap_activities.redact import REDACTOR

    install()
    REDACTOR.add("canary-in-a-log-record")
    with caplog.at_level(logging.DEBUG, logger="urllib3.test"):
        logging.getLogger("urllib3.test").debug(
            '%s "%s %s"', "http://h:1", "GET", "/f.zip?X-Amz-Signature=deadbeef"
        )
        error = ValueError("canary-in-a-log-record")
        logging.getLogger("urllib3.test").error("failed", exc_info=(ValueError, error, None))
    assert "deadbeef" not in caplog.text
    assert "canary-in-a-log-record" not in caplog.text
    assert REDACTED in caplog.text


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:1", True),
        ("http://[::1]:8080", True),
        ("https://api.example.com", True),
        ("http://10.0.0.8", False),
        ("http://api.people.ai", False),
        ("http://127.0.0.1.example.com", False),
    ],
)
def test_plain_http_only_on_loopback(url, allowed):
    config = {"start_date": "2024-01-01", "chartmogul_api_key": "k", "chartmogul_api_url": url}
    if allowed:
        assert parse_settings(config, SOURCES).sources["chartmogul"].api_url == url
    else:
        with pytest.raises(Exception, match="plain http on a non-loopback host"):
            parse_settings(config, SOURCES)
