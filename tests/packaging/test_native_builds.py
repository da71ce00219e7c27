"""The native pass built both ways: against the system's simdjson, and against pysimdjson's.

A package build takes simdjson from the system library when pkg-config knows it, and
otherwise compiles in the copy of simdjson's source that pysimdjson ships (see
``tap_activities/sources/peopleai/lines/native_build.py``). Here both builds are made from
this clone (the system library hidden from pkg-config for the second), loaded in turn as the
tap's native pass, and held to the Python pass's output by the differential fuzz: the two
simdjson versions (3.0 on Debian 12, 3.12 in pysimdjson 7) differ, in their handling of a
byte order mark for one, and the pass must not. Under ``CI=true`` a machine without the
system library fails here: both builds are supported, so both are tested."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

import tap_activities.sources.peopleai.lines as lines_package
from tap_activities.records.framing import LINES
from tap_activities.sources.peopleai.lines import native_build
from tap_activities.sources.peopleai.lines.native import built_with, native_frame
from tests.kit import fuzzkit
from tests.kit.must_run import require_native, unavailable

SOURCE = Path(lines_package.__file__).with_name("lines.cpp")
NAME = f"_lines{sysconfig.get_config_var('EXT_SUFFIX')}"
ROUNDS = 300
"""Differential fuzz rounds per build (about 2.5 s each)."""


def hidden_system_library(folder: Path) -> dict[str, str]:
    """An environment in which pkg-config knows no simdjson: a machine without the -dev package."""
    folder.mkdir(exist_ok=True)
    return {"PKG_CONFIG_LIBDIR": str(folder), "PKG_CONFIG_PATH": ""}


def built(target: Path, env: dict[str, str]) -> native_build.Simdjson:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        missing = native_build.missing_for_build()
        if missing is not None:
            unavailable(f"this machine cannot build the native pass: {missing}")
        return native_build.compile_extension(SOURCE, target)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    """Both builds' extension files, made in a temporary folder: system, bundled."""
    folder = tmp_path_factory.mktemp("native-builds")
    if subprocess.run(["pkg-config", "--exists", "simdjson"], check=False).returncode != 0:
        unavailable("pkg-config does not know simdjson: apt install libsimdjson-dev")
    made = {}
    for kind, env in (("system", {}), ("bundled", hidden_system_library(folder / "no-pc"))):
        (folder / kind).mkdir()
        made[kind] = folder / kind / NAME
        used = built(made[kind], env)
        assert used.origin == "system library" if kind == "system" else "pysimdjson" in used.origin
    return made


def loaded(path: Path, name: str = "_lines"):
    """The extension at ``path`` as a module of its own (its file's init function is fixed)."""
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def as_the_native_pass(monkeypatch):
    """Make an extension file the tap's native pass for one test."""

    def install(path: Path):
        module = loaded(path, "tap_activities.sources.peopleai.lines._lines")
        monkeypatch.setitem(sys.modules, "tap_activities.sources.peopleai.lines._lines", module)
        monkeypatch.setattr(lines_package, "_lines", module, raising=False)
        monkeypatch.setenv("TAP_ACTIVITIES_NATIVE", "1")
        return module

    return install


def pysimdjson_header_version() -> str:
    spec = importlib.util.find_spec("simdjson")  # pysimdjson's package
    assert spec is not None
    assert spec.submodule_search_locations
    header = Path(spec.submodule_search_locations[0], "simdjson.h").read_text(errors="replace")
    return re.search(r'#define SIMDJSON_VERSION "([0-9.]+)"', header).group(1)


def test_each_build_says_which_simdjson_it_took(builds, as_the_native_pass):
    system = subprocess.run(
        ["pkg-config", "--modversion", "simdjson"], capture_output=True, text=True, check=True
    ).stdout.strip()
    from importlib.metadata import version

    expected = {
        "system": (system, "system library"),
        "bundled": (pysimdjson_header_version(), f"pysimdjson {version('pysimdjson')}"),
    }
    for kind, path in builds.items():
        as_the_native_pass(path)
        assert built_with() == dict(zip(("version", "origin"), expected[kind], strict=True))
    # The bundled build carries simdjson inside: it needs no simdjson library to load.
    assert b"libsimdjson" in builds["system"].read_bytes()
    assert b"libsimdjson" not in builds["bundled"].read_bytes()


def test_the_installed_pass_is_the_build_this_machine_would_make():
    """The system library where pkg-config knows it (in a fresh interpreter: no test's build)."""
    require_native()
    probe = (
        "from tap_activities.sources.peopleai.lines.native import built_with; "
        "print(built_with()['origin'])"
    )
    installed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = native_build.find_simdjson().origin
    assert installed == expected, "the installed build is stale: reinstall the package"


@pytest.mark.parametrize("kind", ["system", "bundled"])
def test_each_build_frames_as_the_python_pass(kind, builds, as_the_native_pass, tmp_path):
    module = as_the_native_pass(builds[kind])
    assert native_frame() is module.frame
    # A later line's byte order mark opening a piece: simdjson 3.4 and later skip it.
    piece = b'\xef\xbb\xbf{"uid":"a","x":1}\n'
    names, nulls = (b"uid", b"y"), (b'"uid":null', b'"y":null')
    framing = (LINES.head, LINES.sep, LINES.tail)
    assert module.frame(piece, len(piece), names, nulls, *framing, (), ()) is None
    assert fuzzkit.run(11, ROUNDS, tmp_path, report=print) >= 3 * ROUNDS


def test_a_build_without_any_simdjson_says_what_is_missing(tmp_path, monkeypatch):
    for name, value in hidden_system_library(tmp_path / "no-pc").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(native_build, "_bundled_simdjson", lambda: None)
    missing = native_build.missing_for_build()
    assert missing is not None
    assert "libsimdjson-dev" in missing
    assert "pysimdjson 7.0 and later" in missing
    with pytest.raises(native_build.NativeBuildError, match="simdjson was not found"):
        native_build.compile_extension(SOURCE, tmp_path / NAME)
    assert os.listdir(tmp_path) == ["no-pc"]


def test_build_folders_that_killed_builds_left_go_after_an_hour(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    hour = native_build.STALE_SCRATCH_SECONDS
    folders = {}
    for name, seconds in (("old", hour + 60), ("running", hour - 60)):
        folder = tmp_path / f"{native_build.SCRATCH_PREFIX}{name}"
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "simdjson.o").write_bytes(b"x")
        then = time.time() - seconds
        os.utime(folder, (then, then))
        folders[name] = folder
    other = tmp_path / "tap-activities-native.txt"  # not a folder
    other.write_bytes(b"x")
    link = tmp_path / f"{native_build.SCRATCH_PREFIX}link"
    link.symlink_to(folders["running"])
    assert native_build.remove_stale_scratch(time.time()) == [folders["old"].name]
    assert sorted(tmp_path.iterdir()) == sorted([folders["running"], other, link])
