"""The wheel users install carries the extractor alone.

The local upstream (``activities_upstream``) and werkzeug serve the tests, the demo and the
benchmark from a clone; a production environment must not get them. The wheel is built the
way pip builds it (an isolated build with hatchling), then its files and its metadata are
read: no file outside ``tap_activities``, and no requirement the tap does not import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = {
    "singer-sdk",
    "requests",
    "python-backoff",
    "orjson",
    "pysimdjson",
    "isal",
    "jsonschema",
}


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("tap_activities-*.whl")
    return wheel


def requirement_name(line: str) -> str:
    name = line.split(";", maxsplit=1)[0].strip()
    for stop in "<>=~![ (":
        name = name.split(stop)[0]
    return name.strip().lower()


def test_the_wheel_holds_only_the_tap_and_its_runtime_requirements(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(
            archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        )
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"tap_activities"}
    assert not [n for n in names if "activities_upstream" in n]
    assert "tap_activities/schemas/peopleai_email.json" in names  # schemas travel with it
    required = {
        requirement_name(line)
        for line in metadata.get_all("Requires-Dist") or []
        if "extra ==" not in line
    }
    assert required == RUNTIME
    upstream_extra = {
        requirement_name(line)
        for line in metadata.get_all("Requires-Dist") or []
        if "extra ==" in line and "upstream" in line.split("extra ==")[1]
    }
    assert upstream_extra == {"werkzeug"}
    s3_extra = {
        line.split(";")[0].strip()
        for line in metadata.get_all("Requires-Dist") or []
        if "extra ==" in line and "s3" in line.split("extra ==")[1]
    }
    assert s3_extra == {"singer-sdk[s3]~=0.54.9"}


def test_the_install_warning_without_simdjson_has_no_doubled_parentheses(tmp_path):
    """A machine whose pkg-config knows no simdjson: the warning of ``pip wheel -v``."""
    env = {k: v for k, v in os.environ.items() if k != "TAP_ACTIVITIES_NATIVE"}
    env.update(PKG_CONFIG_LIBDIR=str(tmp_path / "no-pc-files"), PKG_CONFIG_PATH="")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    (line,) = [x.strip() for x in output.splitlines() if "native fragment pass not built" in x]
    assert "simdjson" in line
    assert "the pure-Python pass will be used" in line
    depth = deepest = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    assert (depth, deepest) == (0, 1), line  # balanced, never one inside another
