"""``python -m doctools write | check | home URL``: the documentation's generated parts.

- ``write``: rewrite every generated block and page, and the diagram, from the code;
- ``check``: exit 1 naming each page whose generated part differs from the code, or each
  link to a project home that is not the one pyproject.toml sets;
- ``home URL``: move every link to the project's home to ``URL`` (a GitHub repository).
"""

from __future__ import annotations

import sys

from doctools import diagram, home, reference


def main(argv: list[str]) -> int:
    """Run one command; the exit status."""
    command = argv[0] if argv else ""
    root = reference.ROOT
    if command == "write":
        changed = reference.write() + ([diagram.OUTPUT] if diagram.write() else [])
        for path in changed:
            print(f"doctools: wrote {path.relative_to(root)}")
        return 0
    if command == "check":
        problems = [f"{p.relative_to(root)} is stale" for p in reference.stale()]
        if diagram.OUTPUT.read_text() != diagram.draw():
            problems.append(f"{diagram.OUTPUT.relative_to(root)} is stale")
        problems += [f"link to another home: {link}" for link in home.stale_links()]
        for problem in problems:
            print(f"doctools: {problem}", file=sys.stderr)
        if problems:
            print("doctools: run `python -m doctools write` and commit", file=sys.stderr)
        return 1 if problems else 0
    if command == "home" and len(argv) == 2:
        for path in home.move_home(argv[1]):
            print(f"doctools: {path.relative_to(root)} now links to {argv[1]}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
