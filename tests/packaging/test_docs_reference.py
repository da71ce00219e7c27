"""The documentation agrees with the code: the reference pages, the messages, the home URL.

The settings table, the streams and each stream's fields, the troubleshooting lists and
the support matrix are generated from the code (``python -m doctools write``) and
committed; these tests regenerate them and fail on any difference, so a setting, field or
error message added to the tap without its documentation fails here. They read the tap
through its command line, its schema files and its source text only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from doctools import diagram, home, messages, reference

ROOT = Path(__file__).resolve().parents[2]
USER_DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "README.pypi.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    ROOT / "plugin" / "extractors" / "tap-activities.yml",
    *sorted((ROOT / "docs").rglob("*.md")),
]
README_MAX_LINES = 200


def test_the_generated_pages_are_what_the_code_gives_now():
    stale = [str(p.relative_to(ROOT)) for p in reference.stale()]
    assert not stale, f"run `make docs-reference` and commit: {stale}"


def test_every_message_the_tap_can_end_with_is_explained():
    found = messages.collect()
    explained = reference.explained(found, reference.advice_entries())  # raises on a gap
    assert sum(len(texts) for texts in explained.values()) == len(found)


def test_the_messages_are_found_across_the_whole_package():
    """The reader is not vacuous: known messages from several corners of the package."""
    texts = {m.text for m in messages.collect() if m.kind == "error"}
    for expected in (
        "No source configured: set ….",  # settings, worded from the table of sources
        "stopped by …; the last STATE message written stays valid, the next run resumes "
        "from it",  # the CLI's last words, an f-string after the error prefix
        "field … is not an RFC 3339 date-time (…)",  # worded by an exception's own method
        "'batch_config.storage.root' is …, but the tap cannot write a file there (…: …); "
        "check the path, the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for "
        "s3://) and the bucket's permissions",  # a module constant inside an f-string
    ):
        assert expected in texts
    assert len(texts) > 60
    warnings = {m.text for m in messages.collect() if m.kind == "warning"}
    assert "a worker process died; going on in threads" in warnings


def test_an_unexplained_message_fails_the_check(tmp_path):
    package = tmp_path / "tap_activities"
    (package / "deep" / "er").mkdir(parents=True)
    (package / "errors.py").write_text("class TapActivitiesError(Exception):\n    pass\n")
    (package / "deep" / "er" / "odd.py").write_text(
        "from tap_activities.errors import TapActivitiesError\n"
        "class OddError(TapActivitiesError):\n    pass\n"
        "def f(x):\n    msg = f'the flux capacitor {x} melted'\n    raise OddError(msg)\n"
    )
    found = messages.collect(package)
    assert [m.text for m in found] == ["the flux capacitor … melted"]
    with pytest.raises(ValueError, match="flux capacitor"):
        reference.explained(found, reference.advice_entries())


def test_the_state_diagram_is_the_one_doctools_draws():
    assert diagram.OUTPUT.read_text() == diagram.draw()
    assert diagram.OUTPUT.read_text().startswith("<svg ")


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines"


@pytest.mark.parametrize("path", USER_DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_documents_name_no_internal_issue(path):
    text = path.read_text().replace("meltano/meltano#8763", "")  # meltano's public issue
    found = re.findall(r"\bissues? \d+\b|(?<![\w/])#\d+\b|\bsession\b", text, re.IGNORECASE)
    assert not found, f"{path.relative_to(ROOT)}: {found}"


def test_every_link_uses_the_one_home_url():
    current = home.home()
    assert not home.stale_links(current)
    urls = dict(
        re.findall(
            r'^(\w+) = "([^"]+)"',
            (ROOT / "pyproject.toml").read_text().split("[project.urls]")[1].split("\n[")[0],
            re.M,
        )
    )
    assert all(url.startswith(current.url) for url in urls.values()), urls
    definition = yaml.safe_load((ROOT / "plugin/extractors/tap-activities.yml").read_text())
    assert definition["repo"] == current.url
    assert definition["docs"].startswith(current.url)
    assert definition["variant"] == current.owner
    assert home.PROJECT_LINK.search(current.url)  # the check would see a stale home


def test_moving_the_home_rewrites_every_link(tmp_path, monkeypatch):
    pages = {
        "README.md": "see https://github.com/your-org/tap-activities#readme and "
        "https://raw.githubusercontent.com/your-org/tap-activities/v1/x.yml\n",
        "plugin.yml": "variant: your-org\nrepo: https://github.com/your-org/tap-activities\n",
        "pyproject.toml": '[project.urls]\nHomepage = "https://github.com/your-org/tap-activities"\n',
    }
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(home, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(home, "tracked_text_files", lambda: sorted(tmp_path.iterdir()))
    monkeypatch.setattr(home, "ROOT", tmp_path)
    old = home.home()
    assert home.move_home("https://github.com/acme/tap-activities")
    assert home.home().owner == "acme"
    assert not home.stale_links()
    assert "variant: acme\n" in (tmp_path / "plugin.yml").read_text()
    assert old.owner not in "".join(p.read_text() for p in tmp_path.iterdir())


def _anchors(page: Path) -> set[str]:
    """The heading anchors MyST gives a page (myst_heading_anchors = 3)."""
    slugs = set()
    for heading in re.findall(r"^#{1,3} (.+)$", page.read_text(), re.M):
        text = re.sub(r"[`*]", "", heading).strip().lower()
        slugs.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return slugs


def test_references_to_documentation_pages_resolve():
    """A comment or page naming ``docs/<page>.md#anchor`` points at a page that exists."""
    broken = []
    for path in home.tracked_text_files():
        for page, anchor in re.findall(r"\bdocs/([\w./-]+\.md)(?:#([\w-]+))?", path.read_text()):
            target = ROOT / "docs" / page
            if not target.exists():
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}")
            elif anchor and anchor not in _anchors(target):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert not broken


def test_no_reference_to_a_readme_section_that_moved():
    """Sections moved from the README to docs/: code and comments name the page now."""
    stale = []
    for path in home.tracked_text_files():
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(
                r'(?<!bench/)README(\.md)?,? "|(?<!bench/)README\.md#|README#(?!readme)', line
            ):
                stale.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not stale


def test_the_support_matrix_agrees_with_the_package_and_the_definition():
    versions = reference.python_versions()
    definition = yaml.safe_load((ROOT / "plugin/extractors/tap-activities.yml").read_text())
    assert definition["supported_python_versions"] == versions
    minimum = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert minimum is not None
    assert versions[0] == minimum[1]
    assert reference.operating_systems() == ["POSIX :: Linux"]
    support = (ROOT / "docs" / "support.md").read_text()
    assert "Linux is the supported platform" in support
    about = subprocess.run(
        [sys.executable, "-m", "tap_activities", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert yaml.safe_load(about.stdout)["supported_python_versions"] == versions
