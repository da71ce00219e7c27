"""Every private name of singer-sdk and target-postgres this loader relies on, checked at start.

The loader changes how BATCH messages load, and to do it safely it leans on names the two
packages do not promise to keep. A release that renames one must never make the loader load
silently in another order, so :func:`check` looks at each when the target starts, before it
reads any input, and says what to do:

==========================================  ==========  ===========================================
name                                        mismatch    why
==========================================  ==========  ===========================================
``Target._process_schema_message``          stock path  The loads of a stream run in threads, and
``Target._process_record_message``                      these handlers make a stream's other
``Target._process_activate_version_message``            messages wait for them (and STATE for all
``Target._write_state_message``                         of them). Without that, a load could
                                                        overlap its table's DDL or commit after
                                                        the STATE that covers it. The stock
                                                        target's path (every BATCH message loaded
                                                        before the next line is read) needs none
                                                        of them: the run stays correct, only slower.
``PostgresConnector._connect``              stop        target-postgres's own sink opens every
                                                        connection with it, at the first SCHEMA
                                                        message already: without it no path can
                                                        load, so one error at start beats a
                                                        traceback in the middle of the input.
``singer_sdk.helpers._batch.StorageTarget`` stop        Every path this loader has reads BATCH
(``split_url``, ``from_url``, ``open``)                 files through it, in bounded memory. The
                                                        only reader left would be singer-sdk's own,
                                                        which holds a whole file's records at once:
                                                        a night that runs out of memory half-way
                                                        is worse than an error at start.
==========================================  ==========  ===========================================

A handler counts as changed when the SDK no longer has it, when its parameters are not the
ones the override forwards, or when the SDK's dispatcher (``process_lines`` for messages,
``drain_all`` for STATE) no longer calls it by that name: a rename leaves the old override in
place but never called, which is the case that would otherwise go unnoticed.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import click

STOCK = "stock"  # the whole run loads every BATCH message the stock target's way
STOP = "stop"  # the target stops before reading input

# Each handler the target overrides: its parameters, and the SDK function that calls it.
READER = "plugin_base.BaseSingerReader.process_lines"
HANDLERS = {
    "_process_schema_message": (("self", "message_dict"), READER),
    "_process_record_message": (("self", "message_dict"), READER),
    "_process_activate_version_message": (("self", "message_dict"), READER),
    "_write_state_message": (("self", "state"), "target_base.Target.drain_all"),
}
STORAGE_METHODS = ("split_url", "from_url", "open")


class GuardError(click.ClickException):
    """An installed package lacks a name no load can do without: the target does not start."""


@dataclass(frozen=True)
class Finding:
    """A private name that is not as this loader expects, and what the target does about it."""

    name: str
    problem: str
    action: str  # STOCK or STOP


def _sdk(dotted: str) -> object | None:
    """``module.Class.attribute`` under singer_sdk, or None if any part is gone."""
    module_name, *attributes = dotted.split(".")
    try:
        found: object = importlib.import_module(f"singer_sdk.{module_name}")
    except ImportError:
        return None
    for attribute in attributes:
        found = getattr(found, attribute, None)
        if found is None:
            return None
    return found


def _handler_problem(name: str, parameters: tuple[str, ...], dispatcher: str) -> str:
    """What is wrong with the SDK's handler ``name`` for the override, or ''."""
    target = _sdk("target_base.Target")
    handler = getattr(target, name, None)
    if not callable(handler):
        return f"singer-sdk's Target has no {name}"
    try:
        found = tuple(inspect.signature(handler).parameters)
    except (TypeError, ValueError):
        found = ()
    if found != parameters:
        return (
            f"singer-sdk's Target.{name} takes ({', '.join(found)}), not ({', '.join(parameters)})"
        )
    calling = _sdk(dispatcher)
    code = getattr(inspect.unwrap(calling), "__code__", None) if calling else None
    if code is None or name not in code.co_names:
        return f"singer-sdk's {dispatcher.split('.', 1)[1]} no longer calls {name}"
    return ""


def _connect_problem() -> str:
    from target_postgres.connector import PostgresConnector

    if not callable(getattr(PostgresConnector, "_connect", None)):
        return "target-postgres's PostgresConnector has no _connect"
    return ""


def _storage_problem() -> str:
    storage = _sdk("helpers._batch.StorageTarget")
    if storage is None:
        return "singer-sdk has no helpers._batch.StorageTarget"
    missing = [m for m in STORAGE_METHODS if not callable(getattr(storage, m, None))]
    if missing:
        return f"singer-sdk's StorageTarget lacks {', '.join(missing)}"
    return ""


def check() -> list[Finding]:
    """Every private name that is not as expected, with the action it calls for."""
    findings = [
        Finding(name, problem, STOCK)
        for name, (parameters, dispatcher) in HANDLERS.items()
        if (problem := _handler_problem(name, parameters, dispatcher))
    ]
    if problem := _connect_problem():
        findings.append(Finding("PostgresConnector._connect", problem, STOP))
    if problem := _storage_problem():
        findings.append(Finding("StorageTarget", problem, STOP))
    return findings


def installed(distribution: str) -> str:
    """The installed version of ``distribution``, for messages."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "(not installed)"


def stop_message(findings: list[Finding]) -> str:
    """The one error of a target that cannot start."""
    return (
        f"target-postgres-batch cannot load with singer-sdk {installed('singer-sdk')} and "
        f"target-postgres {installed('meltanolabs-target-postgres')}: "
        + "; ".join(f.problem for f in findings)
        + ". Install the versions its package pins (pip install target-postgres-batch "
        "brings them)."
    )


def stock_message(findings: list[Finding]) -> str:
    """The one warning of a run that takes the stock target's path throughout."""
    return (
        f"singer-sdk {installed('singer-sdk')} changed what target-postgres-batch relies on "
        "to load BATCH messages in threads ("
        + "; ".join(f.problem for f in findings)
        + "): this run loads every BATCH message the stock target's way, one at a time"
    )
