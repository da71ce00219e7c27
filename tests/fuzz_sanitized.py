"""``make fuzz``: the differential fuzz of ``tests/kit/fuzzkit.py``, long, under ASan and UBSan.

The native pass is compiled again with ``-fsanitize=address,undefined`` into a temporary
directory (the installed extension is left alone), and the fuzz runs in a child Python
that loads that build instead. CPython itself is not instrumented, so the sanitizer
runtime is preloaded (``LD_PRELOAD``): a Python extension cannot bring ASan in itself.
Leak checking is off (the interpreter keeps its memory at exit); any memory error or
undefined behaviour in the native pass aborts the run with the sanitizer's report.

    python -m tests.fuzz_sanitized --seconds 600        # what make fuzz runs
    python -m tests.fuzz_sanitized --seconds 600 --bundled   # against pysimdjson's simdjson
    python -m tests.fuzz_sanitized --seed 7 --rounds 600 --plain   # one seed, no sanitizer
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from tap_activities.sources.peopleai.lines.native_build import compile_extension
from tap_activities.sources.peopleai.lines.native_build import compiler as build_compiler

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tap_activities" / "sources" / "peopleai" / "lines" / "lines.cpp"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
ROUNDS_PER_SEED = 500


def build(directory: Path) -> Path:
    """The native pass compiled with the sanitizers, as an importable extension file.

    Against the simdjson a package build would take
    (:mod:`tap_activities.sources.peopleai.lines.native_build`): the system library when
    pkg-config knows it, else pysimdjson's copy, itself then compiled with the sanitizers
    too (``--bundled`` hides the system library).
    """
    target = directory / f"_lines{sysconfig.get_config_var('EXT_SUFFIX')}"
    flags = ["-g", "-fno-omit-frame-pointer", *SANITIZE]
    used = compile_extension(SOURCE, target, extra_flags=flags, optimize="-O1")
    print(f"fuzz: built against simdjson from {used.origin}", flush=True)
    return target


def runtime_libraries() -> list[str]:
    """The sanitizer runtimes the compiler links, to preload into the interpreter."""
    compiler = build_compiler()[0]
    found = []
    for name in ("libasan.so", "libubsan.so"):
        path = subprocess.run(
            [compiler, f"-print-file-name={name}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if os.path.isabs(path):
            found.append(path)
    if not found:
        sys.exit("fuzz: the compiler has no ASan runtime (libasan) to preload")
    return found


def fuzz(seconds: float, seed: int, rounds: int | None) -> None:
    """Seeds from ``seed`` on, :data:`ROUNDS_PER_SEED` rounds each, until time is up."""
    from tests.kit import fuzzkit
    from tests.kit.zip_names import NameTally

    started = time.monotonic()
    tried = 0
    names = NameTally()
    with tempfile.TemporaryDirectory(prefix="tap-activities-fuzz-") as directory:
        while True:
            tried += fuzzkit.run(seed, rounds or ROUNDS_PER_SEED, Path(directory), names=names)
            elapsed = time.monotonic() - started
            print(f"fuzz: seed {seed} done, {tried} inputs in {elapsed:.0f} s", flush=True)
            seed += 1
            if rounds is not None or elapsed >= seconds:
                break
    print(f"fuzz: no finding in {tried} inputs, {time.monotonic() - started:.0f} s")
    print(f"fuzz: zip {names.summary()}")


def load_native(path: str) -> None:
    """Make ``tap_activities.sources.peopleai.lines._lines`` the extension at ``path``."""
    import tap_activities.sources.peopleai.lines as lines

    name = "tap_activities.sources.peopleai.lines._lines"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    loader.exec_module(module)
    sys.modules[name] = module
    lines._lines = module  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, help="one seed of this many rounds, then stop")
    parser.add_argument("--plain", action="store_true", help="the installed build, no sanitizer")
    parser.add_argument(
        "--bundled",
        action="store_true",
        help="build against pysimdjson's copy of simdjson, even where the system has one",
    )
    parser.add_argument("--native", help=argparse.SUPPRESS)  # the child: the sanitized build
    args = parser.parse_args()
    os.environ["TAP_ACTIVITIES_NATIVE"] = "1"
    if args.plain or args.native:
        if args.native:
            load_native(args.native)
        fuzz(args.seconds, args.seed, args.rounds)
        return
    if args.bundled:  # pkg-config then knows no simdjson
        os.environ.update(PKG_CONFIG_LIBDIR=os.devnull, PKG_CONFIG_PATH="")
    with tempfile.TemporaryDirectory(prefix="tap-activities-asan-") as directory:
        print("fuzz: building the native pass with ASan and UBSan", flush=True)
        target = build(Path(directory))
        env = {
            **os.environ,
            "LD_PRELOAD": " ".join(runtime_libraries()),
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
            "PYTHONMALLOC": "malloc",  # ASan sees the interpreter's allocations too
        }
        child = [sys.executable, "-m", "tests.fuzz_sanitized", "--native", str(target)]
        child += ["--seconds", str(args.seconds), "--seed", str(args.seed)]
        if args.rounds is not None:
            child += ["--rounds", str(args.rounds)]
        code = subprocess.run(child, env=env, cwd=ROOT, check=False).returncode
    sys.exit(code)


if __name__ == "__main__":
    main()
