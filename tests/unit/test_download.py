"""Reading a part's body where it is prepared (read_body): only a clean 200 is read there.

Everything else (an error status, a reset, a refused connection) must come back as None
before the pass has seen a byte, so that the regular request with its retries decides;
a body cut short must fail the pass, never hand it part of the data as if it were all.
"""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from activities_upstream.http import drop_connection, send_truncated
from tap_activities.errors import CorruptDownloadError
from tap_activities.export.status import ExportStatus
from tap_activities.sources.peopleai.lines.record_lines import iter_line_pieces
from tap_activities.transfer.download import BodyGet, TransferGauge, read_body
from tests.kit.ports import free_port

BODY = b"".join(b'{"n":%d,"text":"%s"}\n' % (n, b"x" * (n % 97)) for n in range(20_000))
TOKEN = "canary-bearer-token-0123456789"


@pytest.fixture(scope="module")
def server():
    seen: list[dict[str, str]] = []

    @Request.application
    def app(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.path == "/ok":
            return Response(BODY, content_type="application/x-ndjson")
        if request.path == "/slow":
            time.sleep(0.3)  # an upstream far away: the answer takes its time
            return Response(BODY, content_type="application/x-ndjson")
        if request.path == "/gzip":
            compressed = gzip.compress(BODY)
            return Response(compressed, headers={"Content-Encoding": "gzip"})
        if request.path == "/error":
            return Response(b'{"message":"busy"}', status=503)
        if request.path == "/reset":
            return drop_connection(request)
        return send_truncated(request, BODY, "application/x-ndjson")

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", seen
    httpd.shutdown()
    httpd.server_close()


def get(url: str) -> BodyGet:
    return BodyGet(url, {"fragment": 3}, {"Authorization": f"Bearer {TOKEN}"}, 10.0, "part 3")


def whole(body) -> bytes:
    return b"".join(piece[:end] for piece, end in iter_line_pieces(body, read_bytes=4096))


def test_a_clean_200_goes_through_the_pass_whole(server):
    url, seen = server
    read = read_body(get(f"{url}/ok"), whole)
    assert read.result == BODY
    assert read.size == len(BODY)
    assert 0 < read.network_seconds <= read.seconds
    assert seen[-1]["Authorization"] == f"Bearer {TOKEN}"


def test_a_compressed_body_is_read_decoded_and_not_held_to_its_wire_length(server):
    url, _seen = server
    read = read_body(get(f"{url}/gzip"), whole)
    assert read.result == BODY
    assert read.size == len(BODY)


@pytest.mark.parametrize("path", ["/error", "/reset"])
def test_anything_but_200_is_left_to_the_regular_request(server, path):
    url, _seen = server
    called = []
    assert read_body(get(f"{url}{path}"), called.append) is None
    assert called == []  # the pass never saw a byte


def test_a_refused_connection_is_left_to_the_regular_request():
    port = free_port()  # nobody listens here
    assert read_body(get(f"http://127.0.0.1:{port}/ok"), lambda body: 1 / 0) is None


def test_a_body_cut_short_fails_the_pass(server):
    url, _seen = server
    with pytest.raises(CorruptDownloadError) as caught:
        read_body(get(f"{url}/short"), whole)
    assert str(caught.value).startswith("part 3: ")
    assert TOKEN not in str(caught.value)


def test_the_gauge_tells_waiting_on_the_network_from_working_on_the_bytes(server):
    """A slow answer: downloads wait on the network (fetch to files, many at once). A
    slow pass over a fast answer: they do not (read in the workers, no file)."""
    url, _seen = server
    gauge = TransferGauge()
    assert gauge.network_bound is None  # nothing measured yet
    slow = read_body(get(f"{url}/slow"), whole)
    gauge.record(slow.network_seconds, slow.seconds)
    assert gauge.network_bound is True

    def slow_work(body):
        data = whole(body)
        time.sleep(2.0)  # generous: the local transfer must take less, even on a busy machine
        return data

    fast = read_body(get(f"{url}/ok"), slow_work)
    gauge.record(fast.network_seconds, fast.seconds)
    assert gauge.network_bound is False


def test_the_credentials_stay_out_of_its_repr():
    assert TOKEN not in repr(get("http://127.0.0.1:1/ok"))


def completed_job(client, request):
    import time

    job = client.create(request)
    while job.status in {ExportStatus.QUEUED, ExportStatus.RUNNING}:
        time.sleep(0.02)
        job = client.status(job.job_id)
    return job


def framed_uids(client, job, request) -> list[str]:
    from tap_activities.records.framing import LINES

    data = b"".join(block for _c, block, _u in client.record_blocks(job, request, ["uid"], LINES))
    return [json.loads(line)["uid"] for line in data.splitlines()]


def test_fragments_reach_the_pass_without_a_file_unless_the_upstream_says_no(monkeypatch):
    """Happy path: no fragment is written to a file. A 503 on one fragment: that one
    goes the regular way (file, retries), and still every record arrives once."""
    import tap_activities.sources.peopleai.fragments as peopleai
    from activities_upstream import LocalUpstream
    from tap_activities.export.request import ExportRequest
    from tap_activities.export.windows import Window
    from tap_activities.settings import parse_settings
    from tap_activities.sources.registry import SOURCES, build_runtime
    from tests.kit.upstream import START, fast_upstream_config, peopleai_config

    filed: list[str] = []
    regular_copy = peopleai.copy_body

    def copy_body(response, out, what):
        filed.append(what)
        return regular_copy(response, out, what)

    monkeypatch.setattr(peopleai, "copy_body", copy_body)
    with LocalUpstream(fast_upstream_config(peopleai_per_day=100, fragment_records=30)) as up:
        settings = parse_settings(peopleai_config(up, worker_processes=0), SOURCES)
        runtime = build_runtime("peopleai", settings)
        try:
            request = ExportRequest(
                "peopleai_email", "email", Window(START, START), export_type="snapshot"
            )
            job = completed_job(runtime.client, request)
            want = sorted(r["uid"] for r in up.peopleai.records("email", START, START))
            assert sorted(framed_uids(runtime.client, job, request)) == want
            assert filed == []

            up.faults.http_error("peopleai.data", 503, times=1)
            assert sorted(framed_uids(runtime.client, job, request)) == want
            assert len(filed) == 1
            assert not up.faults.unfired()
        finally:
            runtime.close()
