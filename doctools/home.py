"""The project's home URL: set once, in pyproject.toml, and used by every link.

``[project.urls] Homepage`` is the one place. The other project URLs in pyproject.toml,
the plugin definition (``repo``, ``docs``, ``pip_url``, ``variant``), meltano.yml, the
README files and the documentation site are written from it; :func:`stale_links` lists
every link to a project home that is not this one, and ``python -m doctools home URL``
moves all of them to a new home at once (when the repository is published or forked).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)$")
# Any link that names a GitHub repository called tap-activities, in the forms the documents
# use: the repository, a raw file in it, a pip git URL.
PROJECT_LINK = re.compile(
    r"(?:https://github\.com|https://raw\.githubusercontent\.com|git\+https://github\.com)"
    r"/(?P<owner>[A-Za-z0-9_.-]+)/tap-activities\b"
)
TEXT_SUFFIXES = {".md", ".yml", ".yaml", ".toml", ".py", ".sh", ".txt", ".json", ".cfg"}


@dataclass(frozen=True)
class Home:
    """The project's home on GitHub and the URLs derived from it."""

    url: str

    @property
    def owner(self) -> str:
        """The GitHub owner, which is also the plugin's Meltano Hub variant."""
        return self._parts()["owner"]

    @property
    def repo(self) -> str:
        """The repository's name."""
        return self._parts()["repo"]

    def raw(self, ref: str, path: str) -> str:
        """A file's raw URL at a tag or commit (what ``meltano add --from-ref`` reads)."""
        return f"https://raw.githubusercontent.com/{self.owner}/{self.repo}/{ref}/{path}"

    def pip_url(self, ref: str, extras: str = "") -> str:
        """A pip requirement installing the tap from this repository at ``ref``."""
        name = f"tap-activities[{extras}]@" if extras else ""
        return f"{name}git+{self.url}.git@{ref}"

    def _parts(self) -> dict[str, str]:
        match = GITHUB.match(self.url)
        if match is None:
            msg = f"the home URL must be https://github.com/<owner>/<repo>, got {self.url!r}"
            raise ValueError(msg)
        return match.groupdict()


def home() -> Home:
    """The home URL as pyproject.toml sets it."""
    urls = PYPROJECT.read_text().split("[project.urls]", 1)[1].split("\n[", 1)[0]
    (url,) = re.findall(r'^Homepage\s*=\s*"([^"]+)"', urls, re.MULTILINE)  # tomllib: 3.11+
    return Home(url.rstrip("/"))


def tracked_text_files() -> list[Path]:
    """The repository's tracked text files (git's list; every file when git is absent)."""
    try:
        listed = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "-C", str(ROOT), "ls-files", "-z"],  # noqa: S607 - git from PATH
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file()]


def stale_links(current: Home | None = None) -> list[str]:
    """Every link to a project home other than the current one, as ``path:line: link``.

    The tests are left out: they hold other homes on purpose, to check this very function.
    """
    current = current or home()
    found = []
    for path in tracked_text_files():
        if path.relative_to(ROOT).parts[0] == "tests":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in PROJECT_LINK.finditer(line):
                if match["owner"] != current.owner:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {match[0]}")
    return found


def move_home(new_url: str) -> list[Path]:
    """Rewrite every link to the current home as a link to ``new_url``; the files changed."""
    old, new = home(), Home(new_url.rstrip("/"))
    new.owner  # noqa: B018  (validates the form before anything is written)
    changed = []
    for path in tracked_text_files():
        if path.relative_to(ROOT).parts[0] == "tests":
            continue  # as in stale_links: the tests' fixtures hold other homes on purpose
        text = path.read_text()
        moved = text.replace(old.url, new.url).replace(
            f"raw.githubusercontent.com/{old.owner}/{old.repo}/",
            f"raw.githubusercontent.com/{new.owner}/{new.repo}/",
        )
        moved = re.sub(
            rf"^(\s*variant: ){re.escape(old.owner)}$", rf"\g<1>{new.owner}", moved, flags=re.M
        )
        if moved != text:
            path.write_text(moved)
            changed.append(path)
    return changed
