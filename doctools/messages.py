"""Every message a run of the tap can end with (and every warning it logs), read from the code.

A run that fails ends with one line, ``tap-activities: error: <message>``; the message is
an error class of :mod:`tap_activities.errors` (or a subclass defined anywhere in the
package) built from a literal, an f-string or a variable assigned one just before, or one
of the CLI's own last words. This module reads ``tap_activities/**/*.py`` with :mod:`ast`
and renders each such message as a template in which ``…`` stands for a value, so the
troubleshooting page can be checked against the code: a message the page does not explain,
or an explanation no message needs any more, fails ``tests/packaging``.

It reads source files, never imports them, and walks the package recursively, so modules
may move without this module changing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tap_activities"
BASE_ERROR = "TapActivitiesError"
HOLE = "…"
LAST_WORDS = "PREFIX"  # the name of the ``tap-activities: error:`` prefix in the package
FAIL = "_fail"  # the CLI's function that writes that prefix and a reason, then exits 1
WARNING_METHODS = {"warning", "log"}  # ``logger.log(level, ...)`` is used for a warning
MIN_WORDS_OF_A_MESSAGE = 4  # shorter texts an exception words are values, not messages
NAMED_FORMATS = ("%.1fs", "%.1f", "%d", "%s", "%r")


@dataclass(frozen=True, order=True)
class Message:
    """One message template and where the code writes it."""

    kind: str  # "error" or "warning"
    text: str
    where: str  # path:line inside the package


def _parse_all(package: Path) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text()) for path in sorted(package.rglob("*.py"))}


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of every class deriving from the tap's base error, wherever it is defined."""
    names = {BASE_ERROR}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {_name(base) for base in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class _Renderer:
    """Turns the expression a message is built from into its text, values as ``…``."""

    def __init__(
        self, scope: ast.AST | None, before: int, module: ast.Module | None = None
    ) -> None:
        self.scope = scope
        self.before = before
        self.constants = _constants(module) if module is not None else {}

    def text(self, node: ast.expr, depth: int = 0) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(self._part(value, depth) for value in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.text(node.left, depth) + self.text(node.right, depth)
        if isinstance(node, ast.Name) and depth < 3:
            assigned = self._assignment(node.id)
            if assigned is not None:
                return self.text(assigned, depth + 1)
            return self.constants.get(node.id, HOLE)  # a module's text constant, if any
        return HOLE

    def _part(self, value: ast.expr, depth: int) -> str:
        if isinstance(value, ast.Constant):
            return str(value.value)
        if isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
            if value.value.id == LAST_WORDS:
                return ""
            return self.constants.get(value.value.id, HOLE)
        return HOLE

    def _assignment(self, name: str) -> ast.expr | None:
        """The value last assigned to ``name`` in the scope before the message is built."""
        if self.scope is None:
            return None
        found: ast.Assign | None = None
        for node in ast.walk(self.scope):
            if (
                isinstance(node, ast.Assign)
                and node.lineno < self.before
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and (found is None or node.lineno > found.lineno)
            ):
                found = node
        return found.value if found is not None else None


def _constants(module: ast.Module) -> dict[str, str]:
    """The module's top-level text constants (``PROBE_SETTING = "..."``), shown as written."""
    return {
        target.id: node.value.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _scopes(tree: ast.Module) -> list[ast.AST]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _innermost(scopes: list[ast.AST], line: int) -> ast.AST | None:
    around = [s for s in scopes if s.lineno <= line <= (s.end_lineno or s.lineno)]
    return min(around, key=lambda s: (s.end_lineno or s.lineno) - s.lineno, default=None)


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    for spec in NAMED_FORMATS:
        text = text.replace(spec, HOLE)
    while f"{HOLE}{HOLE}" in text:
        text = text.replace(f"{HOLE}{HOLE}", HOLE)
    return text.strip()


def _messages_of(
    path: Path, tree: ast.Module, errors: set[str], package: Path
) -> Iterator[Message]:
    scopes = _scopes(tree)
    where = path.relative_to(package.parent).as_posix()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            callee = _name(node.func)
            render = _Renderer(_innermost(scopes, node.lineno), node.lineno, tree)
            if callee in errors or callee == FAIL:
                yield Message("error", _tidy(render.text(node.args[0])), f"{where}:{node.lineno}")
            elif (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in WARNING_METHODS
                and _name(node.func.value) in {"LOGGER", "logger"}
            ):
                fmt = (
                    node.args[1] if node.func.attr == "log" and len(node.args) > 1 else node.args[0]
                )
                text = _tidy(render.text(fmt))
                yield Message("warning", text, f"{where}:{node.lineno}")
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if (
                isinstance(first, ast.FormattedValue)
                and isinstance(first.value, ast.Name)
                and first.value.id == LAST_WORDS
            ):
                text = _tidy(_Renderer(None, 0, tree).text(node))
                yield Message("error", text, f"{where}:{node.lineno}")
        elif isinstance(node, ast.ClassDef) and _is_exception(node):
            yield from _worded_by_the_exception(node, tree, where)


def _worded_by_the_exception(cls: ast.ClassDef, tree: ast.Module, where: str) -> Iterator[Message]:
    """Text an exception class words itself (a method returning an f-string).

    Such an exception (``DateTimeError.describe``) is caught and its words become part of
    the error the run ends with.
    """
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef):
            continue
        for ret in ast.walk(method):
            if isinstance(ret, ast.Return) and isinstance(ret.value, ast.JoinedStr):
                text = _tidy(_Renderer(method, ret.lineno, tree).text(ret.value))
                if len(text.replace(HOLE, " ").split()) >= MIN_WORDS_OF_A_MESSAGE:
                    yield Message("error", text, f"{where}:{ret.lineno}")


def _is_exception(cls: ast.ClassDef) -> bool:
    return any((_name(base) or "").endswith(("Error", "Exception")) for base in cls.bases)


def collect(package: Path = PACKAGE) -> list[Message]:
    """Every error and warning message of the package, sorted, without duplicates."""
    trees = _parse_all(package)
    errors = error_classes(trees)
    found: dict[tuple[str, str], Message] = {}
    for path, tree in trees.items():
        for message in _messages_of(path, tree, errors, package):
            if message.text.strip(f" {HOLE}:;,.()") and (message.kind, message.text) not in found:
                found[(message.kind, message.text)] = message
    return sorted(found.values())
