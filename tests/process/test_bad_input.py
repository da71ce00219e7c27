"""Bad input, one table: each case ends with exit code != 0 and exactly one error line.

The line must name what to fix (the setting, or stream/window/line of a bad export) and
no traceback may reach stderr. Cases cover settings, wrong credentials, an upstream that
is not the API (an HTML page, JSON of another shape) and malformed export data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from activities_upstream import LocalUpstream
from tests.kit.faultkit import param_of, run_side_by_side
from tests.kit.ports import free_port
from tests.kit.tap_process import TapRun, batch_config, deselect_all, run_tap
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config


class Impostor:
    """A server on 127.0.0.1 that answers every call with the same body: not the API."""

    def __init__(self, body: bytes, content_type: str) -> None:
        def app(environ: dict, start_response: Callable) -> Iterator[bytes]:
            Request(environ).get_data()
            return Response(body, status=200, content_type=content_type)(environ, start_response)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Impostor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


HTML = (b"<!doctype html><html><body>Welcome to nginx!</body></html>", "text/html")
OTHER_JSON = (b'{"status": "ok", "version": "1.2.3"}', "application/json")


@dataclass(frozen=True)
class Bad:
    """One bad input: config changes (given the upstream), how to arm it, what to expect."""

    source: str
    config: Callable = lambda up: {}
    needles: tuple[str, ...] = ()
    arm: Callable = lambda faults: None
    impostor: tuple[bytes, str] | None = None
    state_file: str | None = None  # raw text of a --state file
    extra: dict = field(default_factory=dict)
    catalog: Callable | None = None  # catalog (given the tap's own) to pass with --catalog


closed_port = free_port  # a port where nothing listens: connections are refused at once


def selecting(*names: str) -> Callable:
    """A catalog that selects ``names`` (streams the tap may not even have)."""

    def catalog(own: dict) -> dict:
        entries = [
            {
                "tap_stream_id": name,
                "stream": name,
                "schema": {"type": "object", "properties": {}},
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
            for name in names
        ]
        return {"streams": [*own["streams"], *entries]}

    return catalog


CASES = {
    "start-date-invalid": Bad(
        "peopleai", lambda up: {"start_date": "2024-13-01"}, ("'start_date'", "2024-13-01")
    ),
    "start-date-missing": Bad("chartmogul", lambda up: {"start_date": None}, ("'start_date'",)),
    "start-date-not-a-string": Bad(
        "chartmogul", lambda up: {"start_date": 20240101}, ("start_date",)
    ),
    "end-date-invalid": Bad("peopleai", lambda up: {"end_date": "yesterday"}, ("'end_date'",)),
    # The user never set end_date: it defaults to today, and the line says so.
    "start-date-in-the-future": Bad(
        "chartmogul",
        lambda up: {"start_date": "2999-01-01", "end_date": None},
        ("'start_date' (2999-01-01) is after today", "UTC), the default 'end_date'"),
    ),
    "dates-reversed": Bad(
        "chartmogul",
        lambda up: {"start_date": "2024-02-01", "end_date": "2024-01-01"},
        ("'end_date'", "before 'start_date'"),
    ),
    "poll-interval-not-a-number": Bad(
        "peopleai", lambda up: {"poll_interval_seconds": "fast"}, ("'poll_interval_seconds'",)
    ),
    "download-workers-out-of-range": Bad(
        "peopleai", lambda up: {"download_workers": 99}, ("'download_workers'", "<= 16")
    ),
    "lookback-negative": Bad(
        "chartmogul", lambda up: {"chartmogul_lookback_days": -1}, ("'chartmogul_lookback_days'",)
    ),
    "lookback-fraction": Bad(
        "chartmogul", lambda up: {"chartmogul_lookback_days": 1.5}, ("chartmogul_lookback_days",)
    ),
    "job-timeout-zero": Bad(
        "chartmogul", lambda up: {"job_timeout_seconds": 0}, ("'job_timeout_seconds'",)
    ),
    "plain-http-api-url": Bad(
        "peopleai",
        lambda up: {"peopleai_api_url": "http://api.people.ai"},
        ("'peopleai_api_url'", "plain http"),
    ),
    "not-an-http-url": Bad(
        "chartmogul", lambda up: {"chartmogul_api_url": "ftp://x"}, ("'chartmogul_api_url'",)
    ),
    "half-a-key-pair": Bad(
        "peopleai", lambda up: {"peopleai_client_secret": ""}, ("'peopleai_client_secret'",)
    ),
    "no-source": Bad(
        "chartmogul", lambda up: {"chartmogul_api_key": None}, ("No source configured",)
    ),
    "peopleai-wrong-credentials": Bad(
        "peopleai",
        lambda up: {"peopleai_client_secret": "wrong-secret"},
        ("refused the credentials", "'peopleai_client_id'", "'peopleai_client_secret'"),
    ),
    "chartmogul-wrong-key": Bad(
        "chartmogul",
        lambda up: {"chartmogul_api_key": "wrong-key"},
        ("HTTP 401", "refused the credentials", "'chartmogul_api_key'"),
    ),
    "peopleai-url-is-a-web-page": Bad(
        "peopleai", needles=("did not answer a token", "'peopleai_api_url'"), impostor=HTML
    ),
    "chartmogul-url-is-a-web-page": Bad(
        "chartmogul", needles=("not JSON", "'chartmogul_api_url'"), impostor=HTML
    ),
    "peopleai-url-answers-other-json": Bad(
        "peopleai", needles=("did not answer a token", "'peopleai_api_url'"), impostor=OTHER_JSON
    ),
    "chartmogul-url-answers-other-json": Bad(
        "chartmogul", needles=("did not answer pong", "'chartmogul_api_url'"), impostor=OTHER_JSON
    ),
    # The host never answers: fails within a minute, naming the URL setting.
    "peopleai-url-refused": Bad(
        "peopleai",
        lambda up: {"peopleai_api_url": f"http://127.0.0.1:{closed_port()}"},
        ("People.ai API at http://127.0.0.1:", "connection refused", "'peopleai_api_url'"),
    ),
    # A base URL holding part of the path: a 404 where every account has an endpoint.
    "peopleai-url-ends-in-v1": Bad(
        "peopleai",
        lambda up: {"peopleai_api_url": f"{up.peopleai_url}/v1"},
        ("token endpoint", "/v1/auth/v1/tokens answered HTTP 404", "'peopleai_api_url'", "/v1"),
    ),
    "chartmogul-url-ends-in-v1": Bad(
        "chartmogul",
        lambda up: {"chartmogul_api_url": f"{up.chartmogul_url}/v1"},
        ("GET /v1/v1/ping answered HTTP 404", "'chartmogul_api_url'", "without a path"),
    ),
    "chartmogul-url-refused": Bad(
        "chartmogul",
        lambda up: {"chartmogul_api_url": f"http://127.0.0.1:{closed_port()}"},
        ("ChartMogul API at", "connection refused", "'chartmogul_api_url'"),
    ),
    "chartmogul-host-unknown": Bad(
        "chartmogul",
        lambda up: {"chartmogul_api_url": "https://no-such-host.invalid"},
        ("host name not found", "'chartmogul_api_url'"),
    ),
    "peopleai-url-tls-fails": Bad(
        "peopleai",
        lambda up: {"peopleai_api_url": up.peopleai_url.replace("http://", "https://")},
        ("TLS handshake failed", "'peopleai_api_url'"),
    ),
    # Selected streams the tap cannot sync.
    "selects-an-unconfigured-source": Bad(
        "peopleai",
        needles=("'chartmogul_churn'", "'chartmogul_api_key' is not set"),
        catalog=selecting("chartmogul_churn"),
    ),
    "selects-an-unknown-stream": Bad(
        "chartmogul",
        needles=("'peopleai_emails'", "does not have", "peopleai_email"),
        catalog=selecting("peopleai_emails"),
    ),
    # What meltano makes of a `select` rule that matches nothing (a typo): no stream selected.
    "selects-no-stream": Bad(
        "peopleai",
        needles=(
            "selects none of the tap's streams",
            "(peopleai_call, peopleai_email, peopleai_meeting)",
            "meltano select tap-activities --list",
        ),
        catalog=deselect_all,
    ),
    "catalog-without-streams": Bad(
        "chartmogul",
        needles=("selects none of the tap's streams", "chartmogul_churn"),
        catalog=lambda own: {"streams": []},
    ),
    # State the tap cannot use.
    "state-bookmark-not-a-date": Bad(
        "peopleai",
        needles=("'bookmarks.peopleai_email.bookmark'", '"yesterday"', "YYYY-MM-DD"),
        state_file='{"bookmarks": {"peopleai_email": {"bookmark": "yesterday"}}}',
    ),
    "state-bookmarks-a-list": Bad(
        "chartmogul", needles=("state 'bookmarks'", "a list"), state_file='{"bookmarks": []}'
    ),
    "state-mode-unknown": Bad(
        "peopleai",
        needles=("'bookmarks.peopleai_call.mode'", '"full"'),
        state_file='{"bookmarks": {"peopleai_call": {"bookmark": "2024-01-01", "mode": "full"}}}',
    ),
    "state-job-not-an-object": Bad(
        "chartmogul",
        needles=("'bookmarks.chartmogul_churn.jobs.2024-01-01..2024-02-20'", "job_id"),
        state_file='{"bookmarks": {"chartmogul_churn": {"jobs": {"2024-01-01..2024-02-20": 7}}}}',
    ),
    # Settings worded as the user wrote them, never as Python reprs.
    "download-workers-fraction": Bad(
        "peopleai",
        lambda up: {"download_workers": 1.5},
        ("'download_workers' must be a whole number, got 1.5",),
    ),
    "sdk-setting-wrong-type": Bad(
        "chartmogul",
        lambda up: {"flattening_enabled": "yes"},
        ("'flattening_enabled' must be true or false, got \"yes\"",),
    ),
    # BATCH storage the tap cannot write: one line before any export job.
    "batch-storage-backend-missing": Bad(
        "peopleai",
        lambda up: {"batch_config": batch_config("gs://a-bucket/exports")},
        ("'batch_config.storage.root' is gs://a-bucket/exports", "gcsfs"),
    ),
    "batch-storage-not-a-directory": Bad(
        "chartmogul",
        lambda up: {"batch_config": batch_config("file:///etc/hostname/batches")},
        ("'batch_config.storage.root' is file:///etc/hostname/batches", "cannot write"),
    ),
    "state-file-not-json": Bad(
        "chartmogul", needles=("not valid JSON", "line 1 column 2"), state_file="{not json"
    ),
    "malformed-json-line": Bad(
        "peopleai",
        lambda up: {"download_workers": 1},
        ("window 2024-01-01..2024-02-20", "fragment 0", "line 1 is not valid JSON"),
        arm=lambda faults: faults.corrupt_json_line(times=1000),
    ),
    "malformed-csv-row": Bad(
        "chartmogul",
        needles=("chartmogul_", "window 2024-01-01..2024-02-20", "row ", "fields, the header has"),
        arm=lambda faults: faults.bad_csv_row(times=1000),
    ),
}


def _run_case(name: str, workdir: Path) -> TapRun:
    case = CASES[name]
    with LocalUpstream(fast_upstream_config()) as up:
        case.arm(up.faults)
        make = peopleai_config if case.source == "peopleai" else chartmogul_config
        config = {k: v for k, v in {**make(up), **case.config(up)}.items() if v is not None}
        if case.catalog is not None:
            from tap_activities.tap import TapActivities

            own = TapActivities(config=config, validate_config=False).catalog_dict
            return run_tap(config, workdir, catalog=case.catalog(own), timeout=120)
        if case.state_file is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            workdir.joinpath("bad-state.json").write_text(case.state_file)
            args = ("--state", str(workdir / "bad-state.json"))
            return run_tap(config, workdir, args=args, timeout=120)
        if case.impostor is None:
            return run_tap(config, workdir, timeout=120)
        with Impostor(*case.impostor) as impostor:
            config[f"{case.source}_api_url"] = impostor.url
            return run_tap(config, workdir, timeout=120)


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> dict[str, TapRun]:
    """The selected cases, run side by side (each with its own upstream and process)."""
    base = tmp_path_factory.mktemp("bad-input")  # here: mktemp is not thread-safe
    return run_side_by_side(
        request,
        param_of("test_bad_input_gives_one_clear_line_and_a_non_zero_exit", "name"),
        lambda name: _run_case(name, base / name),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_a_non_zero_exit(name, runs):
    run = runs[name]
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = run.cli_errors
    assert len(errors) == 1, run.stderr[-3000:]
    # The tap's line is the only error: no SDK ERROR line, no Python repr before it.
    assert not [line for line in run.stderr.splitlines() if "| ERROR" in line], run.stderr[-3000:]
    assert "Decimal(" not in errors[0]
    for needle in CASES[name].needles:
        assert needle in errors[0], errors[0]
