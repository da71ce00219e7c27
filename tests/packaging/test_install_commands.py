"""The install commands the documents give are ones that can work.

A user copies ``meltano add … --from-ref <raw URL>`` or a ``pip_url`` out of the README, the
docs site or a plugin definition. Every such link must name a file or folder this
repository holds at that path (a moved definition would leave every document pointing at
nothing), and every ``meltano add --from-ref`` must name the plugin alone: meltano 4 reads
``meltano add extractor tap-activities --from-ref …`` as two plugins and adds the
definition a second time, as a utility.
"""

from __future__ import annotations

import re

import pytest

from doctools.home import ROOT, home, tracked_text_files

USER_DOCUMENTS = [
    p
    for p in tracked_text_files()
    if p.suffix in {".md", ".yml", ".yaml"}
    and p.relative_to(ROOT).parts[0] not in {"tests", "bench", ".ci"}
    and p.name != "CHANGELOG.md"
]
RAW = re.compile(
    r"https://raw\.githubusercontent\.com/(?P<owner>[\w.-]+)/tap-activities/[^/\s]+/(?P<path>[^\s`'\")]+)"
)
SUBDIRECTORY = re.compile(
    r"git\+https://github\.com/[\w.-]+/tap-activities\.git@[^\s#`'\"]+#subdirectory=(?P<path>[\w./-]+)"
)
# A command line (in a code block, or a comment of a definition), not prose about one.
MELTANO_ADD = re.compile(r"^\s*(?:#\s*)?meltano add (?P<args>[^\n`]*--from-ref[^\n`]*)")
PLUGIN_TYPES = {"extractor", "loader", "utility", "orchestrator", "transformer", "mapper"}


def _occurrences(pattern: re.Pattern[str]) -> list[tuple[str, re.Match[str]]]:
    found = []
    for path in USER_DOCUMENTS:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [(f"{path.relative_to(ROOT)}:{number}", m) for m in pattern.finditer(line)]
    return found


def test_the_documents_give_install_commands_to_check():
    """The checks below would pass on nothing: the documents must hold what they check."""
    assert len(_occurrences(RAW)) >= 5
    assert len(_occurrences(SUBDIRECTORY)) >= 2
    assert len(_occurrences(MELTANO_ADD)) >= 5


@pytest.mark.parametrize(("where", "match"), _occurrences(RAW), ids=lambda v: str(v)[:60])
def test_every_raw_link_names_a_file_of_this_repository(where, match):
    assert match["owner"] == home().owner, where
    assert (ROOT / match["path"]).is_file(), f"{where}: {match[0]} names no file here"


@pytest.mark.parametrize(("where", "match"), _occurrences(SUBDIRECTORY), ids=lambda v: str(v)[:60])
def test_every_pip_subdirectory_is_a_package_of_this_repository(where, match):
    assert (ROOT / match["path"] / "pyproject.toml").is_file(), f"{where}: {match[0]}"


@pytest.mark.parametrize(("where", "match"), _occurrences(MELTANO_ADD), ids=lambda v: str(v)[:60])
def test_every_meltano_add_from_ref_names_the_plugin_alone(where, match):
    words = match["args"].split()
    assert words[0] not in PLUGIN_TYPES, f"{where}: name the plugin alone ({match[0]})"
    assert words[1] == "--from-ref", where
