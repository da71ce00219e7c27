"""Run the tap as a real process and collect what it writes, message by message."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).with_name("tap-activities"))
CLI_ERROR = "tap-activities: error:"


@dataclass
class TapRun:
    returncode: int
    stderr: str
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict] = field(default_factory=list)
    schemas: dict[str, dict] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # message types in output order
    batch_streams: list[str] = field(default_factory=list)  # stream of each BATCH, in order
    messages: list[dict] = field(default_factory=list)  # every message, in output order

    @property
    def state(self) -> dict:
        return self.states[-1] if self.states else {}

    def bookmarks(self, stream: str) -> dict:
        return self.state.get("bookmarks", {}).get(stream, {})

    @property
    def cli_errors(self) -> list[str]:
        """The one-line errors the tap's CLI printed (``tap-activities: error: ...``)."""
        return [line for line in self.stderr.splitlines() if line.startswith(CLI_ERROR)]

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "error" in line.lower()]


def tap_command(
    config: dict,
    workdir: Path,
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    args: tuple[str, ...] = (),
    argv: list[str] | None = None,
) -> list[str]:
    """The tap's command line; its config (state, catalog) files written in ``workdir``.

    ``argv``: another way to start the tap than its script (``python -c …``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    command = [*(argv or [TAP]), "--config", str(config_path), *args]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    if catalog is not None:
        (workdir / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(workdir / "catalog.json")]
    return command


def start_tap(
    config: dict,
    workdir: Path,
    *,
    env: dict | None = None,
    stdout: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    **command: Any,
) -> subprocess.Popen:
    """The tap started (not waited for), as :func:`tap_command` says; ``env`` is added."""
    return subprocess.Popen(
        tap_command(config, workdir, **command),
        stdout=stdout,
        stderr=stderr,
        env={**os.environ, **(env or {})},
    )


def run_tap(
    config: dict,
    workdir: Path,
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    args: tuple[str, ...] = (),
    env: dict | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run the tap to its end; what it wrote, message by message, and its stderr."""
    proc = subprocess.run(
        tap_command(config, workdir, state=state, catalog=catalog, args=args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    run = TapRun(returncode=proc.returncode, stderr=proc.stderr)
    for line in proc.stdout.splitlines():
        message = json.loads(line)
        run.messages.append(message)
        kind = message["type"]
        run.order.append(kind)
        if kind == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif kind == "STATE":
            run.states.append(message["value"])
        elif kind == "BATCH":
            run.batch_streams.append(message["stream"])
        elif kind == "SCHEMA":
            run.schemas[message["stream"]] = message
    return run


def batch_config(
    root: Path | str,
    size: int | None = None,
    prefix: str | None = None,
    compression: str = "gzip",
) -> dict:
    """A ``batch_config`` that writes JSON Lines files under ``root``.

    ``root``: a local folder, or a storage URL as written (``s3://…``, ``gs://…``).
    """
    url = root if isinstance(root, str) and "://" in root else f"file://{root}"
    config: dict = {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": url},
    }
    if prefix is not None:
        config["storage"]["prefix"] = prefix
    if size is not None:
        config["batch_size"] = size
    return config


def batch_records(run: TapRun) -> dict[str, list[dict]]:
    """The records in the files of each BATCH message of ``run``, in the order written."""
    records: dict[str, list[dict]] = defaultdict(list)
    for message in run.messages:
        if message["type"] != "BATCH":
            continue
        for uri in message["manifest"]:
            with gzip.open(Path(uri.removeprefix("file://")), "rt", encoding="utf-8") as lines:
                records[message["stream"]].extend(json.loads(line) for line in lines)
    return records


DATE_TIME_FIELDS = frozenset({"timestamp", "ingest_timestamp", "created", "start_time", "end_time"})
HAS_OFFSET = re.compile(r".*([Zz]|[+-]\d\d:\d\d)")


def assert_unchanged(emitted: dict, upstream: dict) -> None:
    """The emitted record holds every upstream field with its value; extra fields are null.

    The one change the data contract makes: a date-time without an offset gains a "Z".
    """
    for key, value in upstream.items():
        if key in DATE_TIME_FIELDS and isinstance(value, str) and not HAS_OFFSET.fullmatch(value):
            value += "Z"  # noqa: PLW2901 - what the contract promises instead
        assert emitted.get(key, object()) == value, (
            f"field {key!r} of {upstream.get('uid')} changed"
        )
    for key in emitted.keys() - upstream.keys():
        assert emitted[key] is None, f"field {key!r} invented for {upstream.get('uid')}"


@contextmanager
def killed_at_hold(process: subprocess.Popen, hold, timeout: float = 120) -> Iterator[None]:
    """Wait until the tap is stuck in a held download, run the body, then SIGKILL it.

    The hold is released and the process reaped whatever happens.
    """
    try:
        assert hold.reached.wait(timeout=timeout), "the tap never reached the held download"
        yield
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        hold.release.set()
        if process.poll() is None:
            process.kill()


def read_sink(path: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    """Records per stream and STATE values in a file of Singer messages (a cut line ignored)."""
    records: dict[str, list[dict]] = {}
    states: list[dict] = []
    for line in path.read_text().splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue  # the last line of a killed process may be cut
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    return records, states


def killed_run(config: dict, workdir: Path, sink: Path, hold, **command: Any) -> list[dict]:
    """Start the tap writing to ``sink``, SIGKILL it at ``hold``; the STATE values it wrote.

    Its temporary files stay in ``workdir`` (TMPDIR), as a killed tap leaves them.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with sink.open("wb") as out:
        process = start_tap(
            config,
            workdir,
            env={"TMPDIR": str(workdir)},
            stdout=out,
            stderr=subprocess.DEVNULL,
            **command,
        )
    with killed_at_hold(process, hold):
        pass
    assert process.returncode == -signal.SIGKILL
    return read_sink(sink)[1]


def select_only(catalog: dict, stream_name: str, deselect_field: str | None = None) -> dict:
    """The catalog with only ``stream_name`` selected (and, optionally, one field not)."""
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == stream_name
            elif deselect_field and meta["breadcrumb"] == ["properties", deselect_field]:
                meta["metadata"]["selected"] = False
    return catalog


def deselect_all(catalog: dict) -> dict:
    """The catalog with every stream deselected, as meltano writes it after a typo."""
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = False
    return catalog


def catalog_of(config: dict, stream_name: str) -> dict:
    """The tap's catalog for ``config`` with only ``stream_name`` selected."""
    from tap_activities.tap import TapActivities

    return select_only(TapActivities(config=config).catalog_dict, stream_name)
