"""The package as PyPI and pip users get it: files, metadata, licence, version, description.

The wheel users install carries the extractor alone. The local upstream
(``activities_upstream``) and werkzeug serve the tests, the demo and the benchmark from a
clone; a production environment must not get them. The wheel is built the way pip builds it
(an isolated build with hatchling), the sdist the way a release is built (``python -m
build``), and a wheel again from that sdist, as pip does for a user without a matching
wheel. Then their files and metadata are read: no file outside ``tap_activities``, no
requirement the tap does not import, the licence, classifiers, project URLs, a description
that reads right on PyPI (``twine check``), and the version written in one place.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from tap_activities import __version__
from tests.kit.must_run import require_module
from tests.kit.paths import ROOT

RUNTIME = {
    "singer-sdk",
    "requests",
    "python-backoff",
    "orjson",
    "pysimdjson",
    "isal",
    "jsonschema",
}
SDIST_TOP = {
    "tap_activities",
    "schemas",
    "hatch_build.py",
    "README.md",
    "README.pypi.md",
    "CHANGELOG.md",
    "LICENSE",
    "pyproject.toml",
    "PKG-INFO",
    ".gitignore",
}


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    wheel_from_sdist: Path


def run(*command: str, env: dict | None = None) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-3000:]}"
    return output


def build_wheel(out: Path, source: Path = ROOT) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source))
    (wheel,) = out.glob("tap_activities-*.whl")
    return wheel


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """The wheel as pip builds it, the sdist as a release does, a wheel from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    wheel = build_wheel(out / "wheel")
    tool("build")
    run(sys.executable, "-m", "build", "--sdist", "--outdir", str(out / "sdist"), str(ROOT))
    (sdist,) = (out / "sdist").glob("tap_activities-*.tar.gz")
    return Built(wheel, sdist, build_wheel(out / "from-sdist", sdist))


def tool(module: str) -> None:
    """A test extra's tool, or fail under CI (skip elsewhere) when it is missing."""
    require_module(module, "the test extra has it")


def wheel_metadata(wheel: Path) -> tuple[list[str], Message]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        text = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    return names, Parser().parsestr(text.decode())


def sdist_metadata(sdist: Path) -> tuple[list[str], Message, dict[str, bytes]]:
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if "/" in m.name}
        texts = {
            name: archive.extractfile(member).read()
            for name, member in members.items()
            if name in {"PKG-INFO", "LICENSE"}
        }
    return sorted(members), Parser().parsestr(texts["PKG-INFO"].decode()), texts


def requirement_name(line: str) -> str:
    name = line.split(";", maxsplit=1)[0].strip()
    for stop in "<>=~![ (":
        name = name.split(stop)[0]
    return name.strip().lower()


def test_the_wheel_holds_only_the_tap_and_its_runtime_requirements(built):
    names, metadata = wheel_metadata(built.wheel)
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"tap_activities"}
    assert not [n for n in names if "activities_upstream" in n]
    assert "tap_activities/schemas/peopleai_email.json" in names  # schemas travel with it
    for package in ("records", "singer", "export", "transfer", "sources/peopleai"):
        assert f"tap_activities/{package}/__init__.py" in names  # every subpackage travels
    assert "tap_activities/sources/chartmogul/streams.py" in names
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


def test_the_licence_travels_with_the_wheel_and_the_sdist(built):
    licence = (ROOT / "LICENSE").read_text()
    assert licence.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in licence
    for wheel in (built.wheel, built.wheel_from_sdist):
        names, metadata = wheel_metadata(wheel)
        assert metadata["License-Expression"] == "Apache-2.0"
        assert metadata.get_all("License-File") == ["LICENSE"]
        (copy,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        with zipfile.ZipFile(wheel) as archive:
            assert archive.read(copy).decode() == licence
    names, pkg_info, texts = sdist_metadata(built.sdist)
    assert pkg_info["License-Expression"] == "Apache-2.0"
    assert pkg_info.get_all("License-File") == ["LICENSE"]
    assert texts["LICENSE"].decode() == licence


def test_classifiers_urls_and_authors_read_right(built):
    _, metadata = wheel_metadata(built.wheel)
    classifiers = metadata.get_all("Classifier") or []
    for wanted in (
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
    ):
        assert wanted in classifiers
    # PEP 639: the licence is the License-Expression; licence classifiers are superseded.
    assert not [c for c in classifiers if c.startswith("License ::")]
    minimum = metadata["Requires-Python"].removeprefix(">=")
    versions = [c.rsplit(":: ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c)]
    assert min(versions, key=lambda v: tuple(map(int, v.split(".")))) == minimum
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Source", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Changelog"].endswith("/CHANGELOG.md")
    assert metadata["Author"] or metadata["Author-email"]


def test_the_pypi_description_reads_right_and_twine_check_passes(built):
    tool("twine")
    _, metadata = wheel_metadata(built.wheel)
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = metadata.get_payload()
    assert description.strip() == (ROOT / "README.pypi.md").read_text().strip()
    links = re.findall(r"\]\(([^)]+)\)", description)
    assert links, "no links at all"
    relative = [link for link in links if not link.startswith("https://")]
    assert not relative, f"links that do not work on PyPI: {relative}"
    assert not re.search(r"^make |`make ", description, re.MULTILINE)
    # In a fresh process: a tap instance (the SDK's standard tests make some) adds the
    # SDK's built-in settings to the class's schema, which are not the tap's to document.
    listed = run(
        sys.executable,
        "-c",
        "import json; from tap_activities.tap import TapActivities as T; "
        "print(json.dumps(list(T.config_jsonschema['properties'])))",
    )
    own = set(json.loads(listed.splitlines()[-1]))
    documented = set(re.findall(r"`([a-z_]+)`", description))
    assert own <= documented, f"settings missing from README.pypi.md: {own - documented}"
    checked = run(
        sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)
    )
    assert checked.count("PASSED") == 2, checked


def test_the_version_is_written_once(built):
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert 'dynamic = ["version"]' in project
    for wheel in (built.wheel, built.wheel_from_sdist):
        assert wheel_metadata(wheel)[1]["Version"] == __version__
    assert sdist_metadata(built.sdist)[1]["Version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)[0] == __version__
    tap = Path(sys.executable).with_name("tap-activities")
    assert run(str(tap), "--version").strip().startswith(f"tap-activities v{__version__},")
    from tap_activities.transfer.http import USER_AGENT

    assert f"tap-activities/{__version__} " in USER_AGENT


def test_the_sdist_builds_the_same_wheel_and_holds_no_repository_tooling(built):
    names, _, _ = sdist_metadata(built.sdist)
    assert {name.split("/")[0] for name in names} <= SDIST_TOP
    assert (
        "tap_activities/sources/peopleai/lines/lines.cpp" in names
    )  # a wheel from it can build the pass
    assert not [n for n in names if n.endswith(".so")]
    with zipfile.ZipFile(built.wheel) as a, zipfile.ZipFile(built.wheel_from_sdist) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())


def test_pip_show_reads_the_metadata():
    shown = run(sys.executable, "-m", "pip", "show", "--verbose", "tap-activities")
    fields = dict(line.split(": ", 1) for line in shown.splitlines() if ": " in line)
    assert fields["Version"] == __version__
    assert fields["License-Expression"] == "Apache-2.0"
    assert fields["Author"] == "The tap-activities maintainers"
    assert "Changelog, https://" in shown


def pip_wheel_verbose(out: Path, env: dict[str, str]) -> str:
    """``pip wheel -v`` of this clone into ``out``, as a user's machine would build it."""
    env = {k: v for k, v in os.environ.items() if k != "TAP_ACTIVITIES_NATIVE"} | env
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def test_a_machine_without_libsimdjson_builds_the_native_pass_with_pysimdjsons(tmp_path):
    """pkg-config knows no simdjson: the wheel's pass carries the copy pysimdjson ships.

    The build's temporary folders go with it (``tap-activities-native-*``).
    """
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    output = pip_wheel_verbose(
        tmp_path,
        {
            "PKG_CONFIG_LIBDIR": str(tmp_path / "no-pc-files"),
            "PKG_CONFIG_PATH": "",
            "TMPDIR": str(temporary),
        },
    )
    assert "native fragment pass not built" not in output
    (line,) = [x.strip() for x in output.splitlines() if "native fragment pass built" in x]
    assert "(pysimdjson " in line
    (wheel,) = tmp_path.glob("tap_activities-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert [n for n in archive.namelist() if "/peopleai/lines/_lines" in n]
    assert not list(temporary.glob("tap-activities-native-*")), "the build left its folder"
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel))
    probe = (
        "from tap_activities.sources.peopleai.lines import _lines as n; "
        "print(*n.simdjson(), sep='|')"
    )
    # Not from the clone, whose tap_activities would be found first.
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=venv,
        check=True,
    ).stdout.strip()
    version, origin = shown.split("|")
    assert origin.startswith("pysimdjson ")
    assert re.fullmatch(r"3\.\d+\.\d+", version)


def test_the_install_warning_without_a_compiler_has_no_doubled_parentheses(tmp_path):
    """A machine without a C++ compiler: the warning of ``pip wheel -v``."""
    output = pip_wheel_verbose(tmp_path, {"CXX": str(tmp_path / "no-such-c++")})
    (line,) = [x.strip() for x in output.splitlines() if "native fragment pass not built" in x]
    assert "no C++ compiler" in line
    assert "the pure-Python pass will be used" in line
    depth = deepest = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    assert (depth, deepest) == (0, 1), line  # balanced, never one inside another
