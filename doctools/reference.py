"""The generated parts of the documentation, made from the code.

A page holds generated blocks between two comments::

    <!-- generated: settings (python -m doctools write) -->
    ...
    <!-- end generated: settings -->

and a stream's page (``docs/streams/<stream>.md``) is generated whole. :func:`pages` renders
everything from the tap's stable entry points: its command line (``--about --format=json``,
``--discover``), its console script's Tap class for which settings are its own,
``schemas/*.json``, pyproject.toml and the messages of :mod:`doctools.messages` with the
advice of ``docs/_data/troubleshooting.yml``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from doctools import messages

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCHEMAS = ROOT / "schemas"
ADVICE = DOCS / "_data" / "troubleshooting.yml"
COMMAND = "python -m doctools write"
# Credentials that only enable discovery: --discover makes no call to either API.
DISCOVERY_CONFIG = {
    "start_date": "2024-01-01",
    "peopleai_client_id": "discovery-only",
    "peopleai_client_secret": "discovery-only",
    "chartmogul_api_key": "discovery-only",
}
SOURCES = {
    "peopleai": ("People.ai", "activity_type", "JSONLines"),
    "chartmogul": ("ChartMogul", "type", "zipped CSV"),
}
# The Tap class behind the console script, found as the script finds it: no module path here.
OWN_SETTINGS = """
import json
from importlib.metadata import entry_points
(script,) = [e for e in entry_points(group="console_scripts") if e.name == "tap-activities"]
module = __import__(script.module, fromlist=["_"])
tap = next(v for v in vars(module).values() if getattr(v, "name", None) == "tap-activities"
           and hasattr(v, "config_jsonschema"))
print(json.dumps(sorted(tap.config_jsonschema["properties"])))
"""


def _tap(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, the tap's own module
        [sys.executable, "-m", "tap_activities", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def about() -> dict[str, Any]:
    """``tap-activities --about --format=json``."""
    return json.loads(_tap("--about", "--format=json"))


def own_setting_names() -> list[str]:
    """The settings the tap declares itself (the rest of ``--about`` is the SDK's)."""
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", OWN_SETTINGS], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def catalog() -> dict[str, Any]:
    """``tap-activities --discover`` with both sources enabled."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps(DISCOVERY_CONFIG))
        return json.loads(_tap("--config", str(config), "--discover"))


# ---------------------------------------------------------------------------------------
# Settings


def _kind(schema: dict[str, Any]) -> str:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    if schema.get("format") == "date":
        return "date"
    if "integer" in types:
        return "whole number"
    if "number" in types:
        return "number"
    return {"string": "text", "boolean": "true/false", "object": "object", "array": "list"}.get(
        types[0] if types else "", "any"
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def settings_table(info: dict[str, Any], names: list[str]) -> str:
    """The tap's own settings, in the order it declares them."""
    schema = info["settings"]
    required = set(schema.get("required", []))
    rows = [
        "| Setting | Type | Default | Description |",
        "|:--|:--|:--|:--|",
    ]
    for name, prop in schema["properties"].items():
        if name not in names:
            continue
        default = f"`{prop['default']}`" if "default" in prop else ""
        notes = []
        if name in required:
            notes.append("**Required.**")
        if prop.get("secret"):
            notes.append("**Secret**: redacted from every log line; `sensitive` in meltano.")
        description = _cell(" ".join([prop.get("description", ""), *notes]))
        rows.append(f"| `{name}` | {_kind(prop)} | {default} | {description} |")
    return "\n".join(rows)


def sdk_settings_table(info: dict[str, Any], names: list[str]) -> str:
    """The Singer SDK's built-in settings as ``--about`` lists them (nested ones dotted)."""
    rows = ["| Setting | Type | Description |", "|:--|:--|:--|"]

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, prop in properties.items():
            dotted = f"{prefix}{name}"
            if not prefix and name in names:
                continue
            rows.append(f"| `{dotted}` | {_kind(prop)} | {_cell(prop.get('description', ''))} |")
            walk(prop.get("properties", {}), f"{dotted}.")

    walk(info["settings"]["properties"], "")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------
# Streams


@dataclass(frozen=True)
class Stream:
    """One stream as discovery and its schema file describe it."""

    name: str
    keys: list[str]
    schema: dict[str, Any]

    @property
    def source(self) -> str:
        """``peopleai`` or ``chartmogul``: the stream name's prefix."""
        return self.name.split("_", 1)[0]

    @property
    def activity(self) -> str:
        """The activity type the stream exports (``email``, ``churn``)."""
        return self.name.split("_", 1)[1]

    @property
    def export(self) -> str:
        """The export parameter and file form, as the streams table shows them."""
        _, parameter, form = SOURCES[self.source]
        return f"`{parameter}={self.activity}`, {form}"


def streams(found: dict[str, Any]) -> list[Stream]:
    """The discovered streams, each with the schema file it ships."""
    result = []
    for entry in sorted(
        found["streams"],
        key=lambda s: (not s["tap_stream_id"].startswith("peopleai"), s["tap_stream_id"]),
    ):
        name = entry["tap_stream_id"]
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        result.append(Stream(name, entry.get("key_properties") or [], schema))
    shipped = {p.stem for p in SCHEMAS.glob("*.json")}
    if shipped != {s.name for s in result}:
        msg = f"schemas/ and --discover disagree: {sorted(shipped ^ {s.name for s in result})}"
        raise ValueError(msg)
    return result


def streams_table(found: list[Stream], link: str) -> str:
    """Stream, source, key and export; ``link`` is the folder of the stream pages."""
    rows = ["| Stream | Source | Primary key | Export |", "|:--|:--|:--|:--|"]
    for stream in found:
        label = SOURCES[stream.source][0]
        keys = ", ".join(f"`{k}`" for k in stream.keys)
        rows.append(
            f"| [`{stream.name}`]({link}{stream.name}.md) | {label} | {keys} | {stream.export} |"
        )
    return "\n".join(rows)


def _type_of(prop: dict[str, Any]) -> str:
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    shown = [t for t in types if t != "null"]
    text = " or ".join(shown) or "any"
    if prop.get("format"):
        text += f" ({prop['format']})"
    if "null" in types:
        text += ", nullable"
    return text


def _fields(properties: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for name, prop in properties.items():
        path = f"{prefix}{name}"
        rows.append((path, prop))
        rows += _fields(prop.get("properties", {}), f"{path}.")
        items = prop.get("items", {})
        if isinstance(items, dict):
            rows += _fields(items.get("properties", {}), f"{path}[].")
    return rows


def stream_page(stream: Stream) -> str:
    """A stream's whole page: what it holds, its key, and every field of its schema."""
    label = SOURCES[stream.source][0]
    keys = ", ".join(f"`{k}`" for k in stream.keys)
    lines = [
        f"<!-- generated whole from schemas/{stream.name}.json and --discover ({COMMAND}) -->",
        f"# `{stream.name}`",
        "",
        f"{stream.schema.get('description', '')}",
        "",
        f"- **Source:** {label}, export {stream.export}",
        f"- **Primary key:** {keys} (targets upsert on it)",
        "- **Replication:** incremental, by export window (see [windows and state](../state.md))",
        f"- **Schema file:** `schemas/{stream.name}.json`",
        "",
        "| Field | Type |",
        "|:--|:--|",
    ]
    for path, prop in _fields(stream.schema.get("properties", {})):
        lines.append(f"| `{path}` | {_type_of(prop)} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Troubleshooting


@dataclass(frozen=True)
class Advice:
    """One entry of the advice file and the messages it explains."""

    section: str
    kind: str
    match: str
    advice: str


def advice_entries() -> list[Advice]:
    """The advice file's entries, errors by section, then warnings."""
    data = yaml.safe_load(ADVICE.read_text())
    entries = [
        Advice(section["title"], "error", item["match"], item["advice"])
        for section in data["sections"]
        for item in section["errors"]
    ]
    entries += [Advice("Warnings", "warning", i["match"], i["advice"]) for i in data["warnings"]]
    return entries


def explained(found: list[messages.Message], entries: list[Advice]) -> dict[Advice, list[str]]:
    """Each advice entry with its messages; raises when code and advice disagree."""
    problems = []
    by_entry: dict[Advice, list[str]] = {entry: [] for entry in entries}
    for message in found:
        # The most specific entry explains a message: "… GET … failed" before "… failed".
        matching = sorted(
            (e for e in entries if e.kind == message.kind and e.match in message.text),
            key=lambda e: -len(e.match),
        )
        if not matching or (len(matching) > 1 and len(matching[0].match) == len(matching[1].match)):
            what = "no entry" if not matching else f"{len(matching)} equally long entries"
            problems.append(
                f"{message.kind} {message.text!r} ({message.where}): {what} in {ADVICE.name}"
            )
            continue
        by_entry[matching[0]].append(message.text)
    problems += [
        f"entry {e.match!r} matches no {e.kind} in the code" for e, m in by_entry.items() if not m
    ]
    if problems:
        raise ValueError("\n".join(problems))
    return by_entry


def troubleshooting_table(kind: str) -> str:
    """The messages of ``kind`` grouped under their advice, by section."""
    by_entry = explained(messages.collect(), advice_entries())
    blocks: list[str] = []
    section = None
    for entry, texts in by_entry.items():
        if entry.kind != kind:
            continue
        if entry.section != section and kind == "error":
            section = entry.section
            blocks += [
                "",
                f"### {section}",
                "",
                "| Message | Meaning and what to do |",
                "|:--|:--|",
            ]
        elif not blocks:
            blocks += ["| Message | Meaning and what to do |", "|:--|:--|"]
        shown = "<br>".join(f"`{_cell(text).replace('`', '')}`" for text in sorted(set(texts)))
        blocks.append(f"| {shown} | {_cell(entry.advice)} |")
    return "\n".join(blocks).strip("\n")


# ---------------------------------------------------------------------------------------
# Support matrix


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def python_versions() -> list[str]:
    """The Python versions the classifiers name (requires-python is their minimum)."""
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', _pyproject())


def operating_systems() -> list[str]:
    """The operating systems the classifiers name."""
    return re.findall(r'"Operating System :: (.+?)"', _pyproject())


def support_table() -> str:
    """What each release is built and tested with, from pyproject.toml and the Makefile."""
    sdk = re.search(r'"singer-sdk(~=[\d.]+)"', _pyproject())
    meltano = re.search(r"^MELTANO_VERSION \?= (\S+)", (ROOT / "Makefile").read_text(), re.M)
    if sdk is None or meltano is None:
        msg = "pyproject.toml's singer-sdk pin or the Makefile's MELTANO_VERSION moved"
        raise ValueError(msg)
    rows = [
        "| Component | Supported | Tested in CI |",
        "|:--|:--|:--|",
        f"| Python (CPython) | {', '.join(python_versions())} | the CI machine's Python 3 |",
        f"| singer-sdk | `{sdk[1]}` (pinned by the package) | the newest release of that pin |",
        f"| meltano | {meltano[1]} | {meltano[1]} |",
        f"| Operating system | {', '.join(operating_systems())} | Debian 12 (x86_64) |",
    ]
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------
# Pages


def blocks() -> tuple[dict[str, str], list[Stream]]:
    """Every generated block by name, and the streams found."""
    info, names = about(), own_setting_names()
    found = streams(catalog())
    return {
        "settings": settings_table(info, names),
        "sdk-settings": sdk_settings_table(info, names),
        "streams": streams_table(found, ""),
        "readme-streams": streams_table(found, "docs/streams/"),
        "errors": troubleshooting_table("error"),
        "warnings": troubleshooting_table("warning"),
        "support": support_table(),
    }, found


def _fill(text: str, name: str, body: str) -> str:
    start = f"<!-- generated: {name} ({COMMAND}) -->\n"
    end = f"<!-- end generated: {name} -->"
    pattern = re.compile(f"({re.escape(start)})(.*?)({re.escape(end)})", re.DOTALL)
    if not pattern.search(text):
        msg = f"no generated block {name!r}"
        raise ValueError(msg)
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text)


PAGES_WITH_BLOCKS = {
    "README.md": ["readme-streams"],
    "docs/settings.md": ["settings", "sdk-settings"],
    "docs/streams/index.md": ["streams"],
    "docs/troubleshooting.md": ["errors", "warnings"],
    "docs/support.md": ["support"],
}


def pages() -> dict[Path, str]:
    """Every page that holds generated text, as it should read now."""
    rendered, found = blocks()
    result: dict[Path, str] = {}
    for relative, names in PAGES_WITH_BLOCKS.items():
        path = ROOT / relative
        text = path.read_text()
        for name in names:
            text = _fill(text, name, rendered[name])
        result[path] = text
    for stream in found:
        result[DOCS / "streams" / f"{stream.name}.md"] = stream_page(stream)
    return result


def stale() -> list[Path]:
    """Pages whose generated text differs from what the code gives now."""
    return [path for path, text in pages().items() if not path.exists() or path.read_text() != text]


def write() -> list[Path]:
    """Rewrite every page whose generated text is out of date; the pages changed."""
    changed = []
    for path, text in pages().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
