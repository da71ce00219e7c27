"""The documentation site builds strictly, offline, and renders in a browser.

``make docs`` builds it with Sphinx in its own virtualenv (``.venv-docs``); here it is
built again into a temporary folder with warnings as errors, every page is checked for
assets fetched from elsewhere (a CDN's script, font or style would break an offline
reader and leak page views), and the home page and a deep page are opened in headless
Chromium (Debian's ``chromium``): a screenshot that is one flat colour means a site that
builds but renders blank. A broken link must fail the build.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from tests.kit.must_run import require_path, unavailable

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SPHINX = ROOT / ".venv-docs" / "bin" / "sphinx-build"
DEEP_PAGE = "streams/peopleai_meeting.html"  # generated, two levels down, a long table
EXTERNAL_ASSET = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"(?:https?:)?//"
    r"|<link\b[^>]*\bhref=\"(?:https?:)?//"
    r"|@import\s+url\((?:['\"])?(?:https?:)?//"
    r"|url\((?:['\"])?(?:https?:)?//",
    re.IGNORECASE,
)


def build(source: Path, out: Path) -> subprocess.CompletedProcess:
    require_path(SPHINX, "`make docs` (or `make test`) installs it")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # conf.py imports doctools from the clone
    return subprocess.run(
        [str(SPHINX), "-W", "--keep-going", "-n", "-q", "-b", "html",
         "-d", str(out / ".doctrees"), str(source), str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(DOCS, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_page_is_built(site):
    pages = {p.relative_to(DOCS).with_suffix(".html") for p in DOCS.rglob("*.md")}
    pages = {p for p in pages if "_data" not in p.parts and "_build" not in p.parts}
    missing = sorted(str(p) for p in pages if not (site / p).exists())
    assert not missing
    assert len(pages) >= 25


def test_nothing_is_fetched_from_elsewhere(site):
    offending = []
    for path in site.rglob("*"):
        if path.suffix in {".html", ".css", ".js", ".svg"} and ".doctrees" not in path.parts:
            for match in EXTERNAL_ASSET.finditer(path.read_text(errors="replace")):
                offending.append(f"{path.relative_to(site)}: {match[0]}")
    assert not offending
    assert (site / "_static" / "searchtools.js").exists()  # search works offline


def test_a_broken_link_fails_the_build(tmp_path):
    source = tmp_path / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build"))
    with (source / "performance.md").open("a") as page:
        page.write("\nSee [the old page](what-a-night-costs.md).\n")
    result = build(source, tmp_path / "out")
    assert result.returncode != 0
    assert "what-a-night-costs.md" in result.stdout + result.stderr


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable("chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
    return found


def screenshot(page: Path, out: Path) -> None:
    """``page`` as headless Chromium draws it at 1280x900, with no network at all."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--screenshot={out}",
             "--window-size=1280,900", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert out.exists(), result.stderr[-2000:]


def pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) pixels of an 8-bit PNG (what Chromium writes)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) in {(8, 2), (8, 6)}, (depth, colour)
    size = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * size, [], bytes(width * size)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up, corner = previous[x], previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                guesses = (
                    (abs(p - left), 0, left),
                    (abs(p - up), 1, up),
                    (abs(p - corner), 2, corner),
                )
                line[x] = (line[x] + min(guesses)[2]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def ink(png: Path) -> tuple[float, int]:
    """In the page's main column (the theme's navigation excluded): the share of pixels
    unlike its background, and how many colours it has."""
    width, _, rows = pixels(png)
    size = len(rows[0]) // width
    left, right = int(width * 0.3) * size, int(width * 0.9) * size  # Furo's content column
    counts: dict[bytes, int] = {}
    for row in rows[::3]:
        for x in range(left, right, size * 3):
            colour = row[x : x + 3]
            counts[colour] = counts.get(colour, 0) + 1
    total = sum(counts.values())
    return 1 - max(counts.values()) / total, len(counts)


@pytest.mark.parametrize("page", ["index.html", DEEP_PAGE])
def test_the_page_renders_in_chromium(site, tmp_path, page):
    shot = tmp_path / "page.png"
    screenshot(site / page, shot)
    covered, colours = ink(shot)
    assert covered > 0.05, f"{page}: {covered:.1%} of the screenshot is not background"
    assert colours > 20, f"{page}: only {colours} colours: nothing drawn"


def test_a_blank_page_would_fail_the_check(site, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    shot = tmp_path / "blank.png"
    screenshot(blank, shot)
    covered, colours = ink(shot)
    assert covered < 0.05
    assert colours <= 20
