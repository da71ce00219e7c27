"""How runs end: signals with a blocked stdout, a dead target, --test, --discover, a wrong
URL, and an SDK whose internals changed. Each runs the tap as a process."""

from __future__ import annotations

import fcntl
import json
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from activities_upstream import LocalUpstream
from tests.kit.ports import free_port as closed_port
from tests.kit.tap_process import CLI_ERROR, assert_unchanged, run_tap, start_tap
from tests.kit.upstream import END, START, chartmogul_config, fast_upstream_config, peopleai_config


def wait_for_blocked_stdout(proc: subprocess.Popen, limit: float = 60) -> None:
    """Until the pipe is full (the tap widens it to 1 MiB) and the tap has stopped working."""
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        time.sleep(0.5)
        unread = struct.unpack("i", fcntl.ioctl(proc.stdout, termios.FIONREAD, b"\0" * 4))[0]
        fields = stat.read_text().rsplit(")", 1)[1].split()
        cpu = int(fields[11]) + int(fields[12])
        if unread >= 1 << 19 and cpu == last:
            return
        last = cpu
    pytest.fail("the tap never blocked on its stdout")


@pytest.fixture
def big_upstream():
    """Enough data to fill a 1 MiB pipe several times over."""
    with LocalUpstream(fast_upstream_config(peopleai_per_day=150)) as up:
        yield up


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_tap_even_when_stdout_is_blocked(big_upstream, tmp_path, signum):
    proc = start_tap(peopleai_config(big_upstream, download_workers=1), tmp_path)
    wait_for_blocked_stdout(proc)
    proc.send_signal(signum)
    proc.wait(timeout=10)  # "within seconds": a blocked tap would hang here
    out, err = proc.stdout.read(), proc.stderr.read().decode()
    assert proc.returncode == 128 + signum
    errors = [line for line in err.splitlines() if line.startswith(CLI_ERROR)]
    assert errors == [
        f"{CLI_ERROR} stopped by {signal.Signals(signum).name}; the last STATE message "
        "written stays valid, the next run resumes from it"
    ]
    assert "Traceback" not in err
    # What reached the pipe is whole messages, and its last STATE is one to resume from.
    lines = out.split(b"\n")
    messages = [json.loads(line) for line in lines[:-1]]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states, "no STATE reached the target before the signal"
    resumed = run_tap(peopleai_config(big_upstream), tmp_path / "resume", state=states[-1])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    upstream = {r["uid"]: r for r in big_upstream.peopleai.records("email", START, END)}
    delivered = [m["record"] for m in messages if m["type"] == "RECORD"]
    delivered += resumed.records["peopleai_email"]
    seen = {}
    for record in delivered:
        if record.get("type") == "email":
            seen[record["uid"]] = record
    assert set(seen) == set(upstream)  # nothing lost between the two runs
    for uid, record in seen.items():
        assert_unchanged(record, upstream[uid])


def test_a_closed_stdout_ends_the_tap_with_one_line(big_upstream, tmp_path):
    proc = start_tap(peopleai_config(big_upstream), tmp_path)
    proc.stdout.readline()  # the target read something, then died
    proc.stdout.close()
    proc.wait(timeout=30)
    err = proc.stderr.read().decode()
    assert proc.returncode == 1
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    errors = [line for line in err.splitlines() if line.startswith(CLI_ERROR)]
    assert errors == [
        f"{CLI_ERROR} the target stopped reading (stdout closed); the last STATE message it "
        "received stays valid"
    ]


def test_connection_test_checks_each_source_without_exporting(upstream, tmp_path):
    config = {**peopleai_config(upstream), **chartmogul_config(upstream)}
    run = run_tap(config, tmp_path, args=("--test",))
    assert run.returncode == 0, run.stderr[-3000:]
    assert not [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert "Connection test: People.ai accepted the key pair" in run.stderr
    assert "Connection test: ChartMogul accepted the API key" in run.stderr
    assert upstream.peopleai.jobs() == []
    assert upstream.chartmogul.exports() == []
    wrong = run_tap({**config, "chartmogul_api_key": "wrong"}, tmp_path / "wrong", args=("--test",))
    assert wrong.returncode == 1
    assert len(wrong.cli_errors) == 1
    assert "'chartmogul_api_key'" in wrong.cli_errors[0]


def test_discover_with_invalid_settings_exits_1_with_the_same_line(upstream, tmp_path):
    config = {**chartmogul_config(upstream), "chartmogul_lookback_days": 1.5}
    runs = [
        run_tap(config, tmp_path / mode, args=args)
        for mode, args in (("sync", ()), ("discover", ("--discover",)))
    ]
    for run in runs:
        assert run.returncode == 1
        assert "Config validation failed" not in run.stderr
    assert runs[0].cli_errors == runs[1].cli_errors
    assert "'chartmogul_lookback_days' must be a whole number" in runs[1].cli_errors[0]


def test_an_unreachable_url_fails_within_a_minute(tmp_path):
    with LocalUpstream(fast_upstream_config()) as up:
        config = peopleai_config(up, max_retry_seconds=600)
    config["peopleai_api_url"] = f"http://127.0.0.1:{closed_port()}"
    # max_retry_seconds is 10 minutes: only the first-contact rule ends this run in time.
    run = run_tap(config, tmp_path, timeout=60)
    assert run.returncode == 1
    assert len(run.cli_errors) == 1
    assert "cannot be reached (connection refused); check 'peopleai_api_url'" in run.cli_errors[0]


def test_an_sdk_with_a_changed_hook_takes_the_sdk_path_with_one_warning(upstream, tmp_path):
    """A singer-sdk release that renames a private hook must make the tap slower, not wrong."""
    patch = (
        "import singer_sdk.streams.core as core\n"
        "original = core.Stream._finalize_state\n"
        "def _finalize_state(self, state=None, *, reason=None):\n"
        "    return original(self, state)\n"
        "core.Stream._finalize_state = _finalize_state\n"
        "from tap_activities.tap import cli\n"
        "cli()\n"
    )
    argv = [sys.executable, "-c", patch]
    proc = start_tap(peopleai_config(upstream), tmp_path, argv=argv)
    out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 0, err[-3000:]
    warnings = [line for line in err.splitlines() if "changed hooks the fast record path" in line]
    assert len(warnings) == 1
    assert "_finalize_state(state, reason)" in warnings[0]
    records = [json.loads(line) for line in out.splitlines()]
    emails = [
        m["record"] for m in records if m["type"] == "RECORD" and m["stream"] == "peopleai_email"
    ]
    want = {r["uid"]: r for r in upstream.peopleai.records("email", START, END)}
    assert sorted(r["uid"] for r in emails) == sorted(want)
    for record in emails:
        assert_unchanged(record, want[record["uid"]])
