"""The picture of windows, export jobs and bookmarks across runs (docs/assets/), as SVG.

Drawn here, offline, from a worked example in the tap's own terms (``snapshot``,
``delta``, ``bookmark``, ``mode``, ``delta_start``, ``jobs``, ``job_id``,
``export_type``): no diagram engine is fetched at build or view time, and the file is
plain SVG that any browser and GitHub show. ``python -m doctools write`` redraws it;
``tests/packaging`` checks that the committed file is the one this module draws.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "assets" / "windows-and-state.svg"
WIDTH = 1040
ROW = 118
TOP = 64
COLOURS = {"snapshot": "#dbe8fb", "delta": "#dcf3e1", "killed": "#fde2e1"}
STROKES = {"snapshot": "#2f6fce", "delta": "#2e8b4f", "killed": "#c2362c"}


@dataclass(frozen=True)
class Window:
    """One export window of the example, as the run treats it."""

    days: str
    export_type: str
    note: str
    killed: bool = False


@dataclass(frozen=True)
class Run:
    """One run of the example: when, its windows, and the state it leaves."""

    title: str
    subtitle: str
    windows: tuple[Window, ...]
    state: dict


# People.ai, start_date 2022-06-01, no end_date (today): the rules of docs/state.md.
RUNS = (
    Run(
        "Run 1 · night of 2024-05-01",
        "no state: history by snapshot (activity date), ≤ 1 year a window",
        (
            Window("2022-06-01..2023-05-31", "snapshot", "job j-1 created, emitted"),
            Window("2023-06-01..2024-05-01", "snapshot", "job j-2 created ahead; killed", True),
        ),
        {
            "bookmark": "2023-05-31",
            "mode": "snapshot",
            "delta_start": "2024-05-01",
            "jobs": {"2023-06-01..2024-05-01": {"job_id": "j-2", "export_type": "snapshot"}},
        },
    ),
    Run(
        "Run 2 · the retry, same day",
        "resumes the day after the bookmark; the kept job is adopted",
        (Window("2023-06-01..2024-05-01", "snapshot", "job j-2 from state: not exported again"),),
        {"bookmark": "2024-05-01", "mode": "delta"},
    ),
    Run(
        "Run 3 · night of 2024-05-02",
        "delta (processed date) from the bookmark day itself, ≤ 14 days a window",
        (Window("2024-05-01..2024-05-02", "delta", "job j-3"),),
        {"bookmark": "2024-05-02", "mode": "delta"},
    ),
    Run(
        "Run 4 · after three weeks without a run",
        "the gap is cut into 14-day delta windows; jobs are created ahead",
        (
            Window("2024-05-02..2024-05-15", "delta", "job j-4"),
            Window("2024-05-16..2024-05-23", "delta", "job j-5 (queued meanwhile)"),
        ),
        {"bookmark": "2024-05-23", "mode": "delta"},
    ),
)


def _text(x: float, y: float, body: str, size: int = 13, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x}" y="{y}" font-size="{size}"{extra}>{escape(body)}</text>'


def _window(x: float, y: float, window: Window) -> list[str]:
    kind = "killed" if window.killed else window.export_type
    dash = ' stroke-dasharray="6 4"' if window.killed else ""
    return [
        f'<rect x="{x}" y="{y}" width="230" height="52" rx="6" fill="{COLOURS[kind]}" '
        f'stroke="{STROKES[kind]}" stroke-width="1.5"{dash}/>',
        _text(x + 10, y + 20, f"{window.export_type} {window.days}", 13, font_weight="600"),
        _text(x + 10, y + 40, window.note, 12),
    ]


def _state(x: float, y: float, state: dict) -> list[str]:
    lines = json.dumps(state, indent=None).replace("}, ", "},\n").split("\n")
    wrapped: list[str] = []
    for line in lines:
        rest = line
        while len(rest) > 56 and rest.rfind(", ", 4, 56) > 0:
            cut = rest.rfind(", ", 4, 56) + 2
            wrapped.append(rest[:cut])
            rest = "  " + rest[cut:]
        wrapped.append(rest)
    height = 24 + 15 * len(wrapped)
    parts = [
        f'<rect x="{x}" y="{y}" width="420" height="{height}" rx="6" fill="#f6f6f4" '
        'stroke="#999" stroke-width="1"/>',
        _text(
            x + 8, y + 14, "STATE (this stream's bookmarks entry) after the run", 11, fill="#555"
        ),
    ]
    for index, line in enumerate(wrapped):
        parts.append(_text(x + 8, y + 30 + 15 * index, line, 11, font_family="monospace"))
    return parts


def draw() -> str:
    """The whole SVG document."""
    height = TOP + ROW * len(RUNS) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" role="img" '
        'aria-labelledby="title">',
        '<title id="title">Windows, export jobs and the bookmark of one People.ai stream '
        "across four runs</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        _text(
            16,
            26,
            "One People.ai stream, start_date 2022-06-01, end_date unset (today)",
            16,
            font_weight="700",
        ),
        _text(
            16,
            46,
            "A STATE message follows each window; the bookmark is the last day whose "
            "window was completely emitted.",
            12,
            fill="#444",
        ),
    ]
    for index, run in enumerate(RUNS):
        y = TOP + ROW * index
        parts.append(f'<line x1="12" y1="{y - 6}" x2="{WIDTH - 12}" y2="{y - 6}" stroke="#ddd"/>')
        parts.append(_text(16, y + 14, run.title, 13, font_weight="700"))
        parts.append(_text(16, y + 32, run.subtitle, 11, fill="#444"))
        for position, window in enumerate(run.windows):
            x = 16 + 250 * position
            parts += _window(x, y + 44, window)
            if position:
                parts.append(
                    f'<path d="M {x - 18} {y + 70} L {x - 4} {y + 70}" stroke="#777" '
                    'stroke-width="1.5" marker-end="url(#arrow)"/>'
                )
        parts += _state(WIDTH - 436, y + 2, run.state)
    parts.insert(
        1,
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker>'
        "</defs>",
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write() -> bool:
    """Redraw the file; True when it changed."""
    text = draw()
    if OUTPUT.exists() and OUTPUT.read_text() == text:
        return False
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    return True
