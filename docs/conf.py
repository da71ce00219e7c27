"""Sphinx configuration of the documentation site (``make docs``).

Sphinx with MyST (Markdown) and the Furo theme: the toolchain of the Meltano Singer SDK's
own documentation, all three actively released. The built site is self-contained: Furo
ships its fonts, scripts and styles with the site, search is Sphinx's own local index, and
the one diagram is an SVG drawn by ``doctools.diagram``, so nothing is fetched from a CDN
at build or view time (``tests/packaging/test_docs_site.py`` checks the built HTML for it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctools.home import home  # noqa: E402  (the project's one home URL)

HOME = home()

project = "tap-activities"
author = "The tap-activities maintainers"
copyright = "the tap-activities maintainers, Apache-2.0"
version = release = ""  # the version belongs to the package (tap-activities --version)

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_data", "**/.*"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
nitpicky = True

html_theme = "furo"
html_title = "tap-activities"
html_static_path: list[str] = []
html_show_sphinx = False
html_copy_source = False
html_theme_options = {
    "source_repository": f"{HOME.url}/",
    "source_branch": "main",
    "source_directory": "docs/",
    "top_of_page_buttons": ["view"],
}
