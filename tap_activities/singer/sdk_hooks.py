"""Every private singer-sdk name the tap touches, in one place and checked once per run.

The SDK's public API does not cover four things this tap needs: a record loop lean enough
for millions of records, per-window state instead of a replication key, SCHEMA messages
for fields the upstream adds mid-run, and a word of its own in ``--about``. For those it
overrides, calls or sets private names, and nowhere but here:

========================================  ================================================
private name                              what happens when an SDK release changes it
========================================  ================================================
``Stream._sync_records``                  the fast record path steps aside: every stream
``Stream._write_record_message``          takes the SDK's own record loop (slower, same
``Stream._finalize_state``                records), with one warning naming the change
``Stream._abort_sync``
``Stream.get_record_counter`` (public,
``Stream.get_sync_timer``  called as such)
``Stream._increment_stream_state``        no SDK path can do without them (state has no
``Stream._write_schema_message``          replication key and is written after each
``Stream._write_state_message``           window; new fields need a SCHEMA message; the
``Stream.state_manager.is_flushed``       streams need their tap): the run stops before
``Stream._tap``, ``Stream._stream_maps``  any export with one error line naming the
``helpers._catalog.                       change
pop_deselected_record_properties``
``Tap._validate_config``                  the SDK's own check and wording of settings
``Tap._get_about_info``                   the SDK's own ``--about``, without the tap's
                                          additions, with one warning naming the change
========================================  ================================================

Each is compared with what this tap was written against when a run starts (``--about``
when it prints): method parameters by name, attributes by the SDK code that sets and
reads them (``is_flushed``: set by ``streams._state.StreamStateManager``, read by
``_write_state_message``, which writes a STATE message only while it is False).
``helpers._batch`` is named only in type hints, never imported at run time.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream, Tap, about
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers import _catalog

from tap_activities.errors import TapActivitiesError

if TYPE_CHECKING:
    from tap_activities.records.framing import Block
    from tap_activities.singer.output import RecordEnvelope

LOGGER = logging.getLogger("tap_activities.sdk_hooks")

FAST_PATH_HOOKS: dict[str, tuple[str, ...]] = {
    "_sync_records": ("self", "context", "write_messages"),
    "_write_record_message": ("self", "record"),
    "_finalize_state": ("self", "state"),
    "_abort_sync": ("self", "abort_reason"),
    "get_record_counter": ("self", "endpoint", "log_interval"),
    "get_sync_timer": ("self",),
}
"""Stream methods the fast path overrides or calls, with the parameters it passes."""

REQUIRED_HOOKS: dict[str, tuple[str, ...]] = {
    "_increment_stream_state": ("self", "latest_record", "context"),
    "_write_schema_message": ("self",),
    "_write_state_message": ("self",),
}
"""Stream methods every record path needs: overridden to do nothing, or called."""

STREAM_ATTRIBUTES: dict[str, tuple[Callable[[type], Any], ...]] = {
    "_tap": (lambda cls: cls.__init__,),
    "_stream_maps": (lambda cls: cls.__init__, lambda cls: cls.stream_maps.fget),
}
"""Stream attributes the tap reads or writes, with the SDK code that must still use them."""

FLUSHED = "is_flushed"
"""The state manager's flag that ``_write_state_message`` obeys: set False, a STATE goes out."""

TAP_HOOKS: dict[str, tuple[str, ...]] = {"_validate_config": ("self", "raise_errors")}
"""Tap methods the tap overrides, with their parameters."""

ABOUT_HOOK = ("_get_about_info", ())
"""The Tap class method that gathers ``--about``'s facts, called with no arguments."""

CATALOG_HELPER = ("pop_deselected_record_properties", ("record", "schema", "mask", "breadcrumb"))
"""What a RECORD's deselected fields lose, applied to BATCH files too."""


def changed_methods(owner: type, hooks: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The methods of ``owner`` in ``hooks`` that are missing or take other parameters."""
    changed = []
    for name, expected in hooks.items():
        hook = getattr(owner, name, None)
        found = _parameters(hook)
        if found is None:
            changed.append(f"{name} ({'gone' if hook is None else 'no signature'})")
        elif found != expected:
            changed.append(f"{name}({', '.join(found[1:])})")
    return changed


def changed_attributes(stream_class: type = Stream) -> list[str]:
    """The attributes in :data:`STREAM_ATTRIBUTES` that the SDK code no longer names."""
    changed = []
    for name, users in STREAM_ATTRIBUTES.items():
        for user in users:
            code = getattr(_unwrap(user, stream_class), "__code__", None)
            if code is None or name not in code.co_names:
                changed.append(f"{name} (unused by the SDK)")
                break
    return changed


def changed_catalog_helper(module: Any = _catalog) -> list[str]:
    """``pop_deselected_record_properties``, when it is missing or takes other parameters."""
    name, expected = CATALOG_HELPER
    found = _parameters(getattr(module, name, None))
    if found == expected:
        return []
    return [f"helpers._catalog.{name}" + (f"({', '.join(found)})" if found else " (gone)")]


def changed_state_flag(stream_class: type = Stream, state_module: Any = None) -> list[str]:
    """``state_manager.is_flushed``, when the SDK no longer sets it or no longer obeys it.

    Renamed, the tap's per-window STATE messages would stop without a word, and a run
    killed later would resume from its first window.
    """
    module = state_module if state_module is not None else _state_module()
    manager_class = getattr(module, "StreamStateManager", None)
    if manager_class is None:
        return ["streams._state.StreamStateManager (gone)"]
    for user in (manager_class.__init__, getattr(stream_class, "_write_state_message", None)):
        code = getattr(inspect.unwrap(user), "__code__", None) if user is not None else None
        if code is None or FLUSHED not in code.co_names:
            return [f"state_manager.{FLUSHED} (unused by the SDK)"]
    return []


def changed_about_hook(tap_class: type = Tap) -> list[str]:
    """``Tap._get_about_info``, when it is missing or asks for arguments."""
    name, expected = ABOUT_HOOK
    found = _parameters(getattr(tap_class, name, None))  # bound to the class: no cls
    if found == expected:
        return []
    return [name + (f"({', '.join(found)})" if found is not None else " (gone)")]


def changed_fast_path_hooks(stream_class: type = Stream) -> list[str]:
    """What differs among the names the fast record path needs."""
    return changed_methods(stream_class, FAST_PATH_HOOKS)


def changed_required_names(stream_class: type = Stream) -> list[str]:
    """What differs among the names every record path needs."""
    return (
        changed_methods(stream_class, REQUIRED_HOOKS)
        + changed_state_flag(stream_class)
        + changed_attributes(stream_class)
        + changed_catalog_helper()
    )


@functools.lru_cache(maxsize=1)
def fast_path_allowed() -> bool:
    """Whether the SDK's hooks are as the fast path expects (warns once when not)."""
    changed = changed_fast_path_hooks()
    if changed:
        LOGGER.warning(
            "singer-sdk changed hooks the fast record path relies on (%s): every stream "
            "takes the SDK's own record path, slower but with the same records",
            "; ".join(changed),
        )
    return not changed


@functools.lru_cache(maxsize=1)
def own_config_check() -> bool:
    """Whether ``Tap._validate_config`` is as the tap's wording of findings expects."""
    changed = changed_methods(Tap, TAP_HOOKS)
    if changed:
        LOGGER.warning(
            "singer-sdk changed how it checks settings (%s): its own wording is used",
            "; ".join(changed),
        )
    return not changed


@functools.lru_cache(maxsize=1)
def own_about() -> bool:
    """Whether ``Tap._get_about_info`` is as the tap's ``--about`` expects (warns when not)."""
    changed = changed_about_hook()
    if changed:
        LOGGER.warning(
            "singer-sdk changed how it gathers --about (%s): its own --about is printed, "
            "without the tap's additions",
            "; ".join(changed),
        )
    return not changed


def check_required_names() -> None:
    """Stop before any export when a name with no SDK path of its own has changed."""
    changed = changed_required_names()
    if changed:
        msg = (
            f"this singer-sdk release changed internals the tap needs ({'; '.join(changed)}); "
            "install the singer-sdk version the tap's package requires"
        )
        raise TapActivitiesError(msg)


def pop_deselected_record_properties(record: dict, schema: dict, mask: Any) -> None:
    """Remove from ``record`` what the catalog deselected, as the SDK does for a RECORD."""
    _catalog.pop_deselected_record_properties(record, schema, mask)


def _parameters(hook: Any) -> tuple[str, ...] | None:
    if hook is None:
        return None
    try:
        return tuple(inspect.signature(hook).parameters)
    except (TypeError, ValueError):
        return None


def _state_module() -> Any:
    try:
        from singer_sdk.streams import _state
    except ImportError:
        return None
    return _state


def _unwrap(user: Callable[[type], Any], stream_class: type) -> Any:
    try:
        return inspect.unwrap(user(stream_class))
    except AttributeError:
        return None


class SdkTapHooks(Tap):
    """The overrides of the SDK's settings check and ``--about``, and what the tap fills in."""

    def register_secrets(self) -> None:
        """Tell the log redactor this run's credential values (before any finding)."""

    def config_error(self, exc: ConfigValidationError) -> TapActivitiesError:
        """The tap's one-line error for the SDK's schema findings."""
        raise NotImplementedError

    def _validate_config(self, *args: Any, **kwargs: Any) -> list[str]:
        """The SDK's schema check, its findings as the tap's one line, in every mode."""
        self.register_secrets()
        if not own_config_check():
            return super()._validate_config(*args, **kwargs)
        try:
            return super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            raise self.config_error(exc) from None

    @classmethod
    def amend_about(cls, text: str, style: str) -> str:
        """``--about``'s text as the SDK formats it in ``style``, with the tap's additions."""
        return text

    @classmethod
    def print_about(cls, output_format: str | None = None) -> None:
        """The SDK's ``--about``, with the tap's additions (:meth:`amend_about`)."""
        if not own_about():
            super().print_about(output_format)
            return
        style = output_format or "text"
        text = about.AboutFormatter.get_formatter(style).format_about(cls._get_about_info())
        print(cls.amend_about(text, style))  # --about writes to stdout, as the SDK's does


class SdkStreamHooks(Stream):
    """The overrides of the SDK's private Stream methods, and the private names they use.

    A subclass provides the records (:meth:`sync_blocks`), the envelope of the window
    being emitted (:attr:`envelope`) and whether the SDK has nothing to do to a record
    (:meth:`can_write_directly`); this class decides which record loop runs.
    """

    _fast_output: bool | None = None
    envelope: RecordEnvelope
    """The bytes around a record's JSON in the RECORD messages of the current window."""

    @property
    def parent_tap(self) -> Any:
        """The tap this stream belongs to (the SDK keeps it private)."""
        return self._tap

    def rebuild_stream_maps(self) -> None:
        """Make :attr:`stream_maps` ask the tap's mapper again (a schema changed)."""
        self._stream_maps = None

    def write_schema_message(self) -> None:
        """Write this stream's SCHEMA message(s) again, as the SDK does at sync start."""
        self._write_schema_message()

    def sync_blocks(self) -> Iterator[Block]:
        """Every record of the sync, serialised and framed, in blocks."""
        raise NotImplementedError

    def can_write_directly(self) -> bool:
        """True when no stream map, flattening or deselected field would change a record."""
        raise NotImplementedError

    def _increment_stream_state(self, latest_record: Any, *, context: Any = None) -> None:
        """Do nothing per record: the bookmark moves per finished window instead."""

    def fast_path(self) -> bool:
        """Whether RECORDs skip the SDK's loop: nothing to transform, and hooks as expected."""
        if self._fast_output is None:
            self._fast_output = fast_path_allowed() and self.can_write_directly()
        return self._fast_output

    def _sync_records(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """The SDK's record loop, or a lean one when records need no SDK processing.

        The SDK's loop spends more time per record on bookkeeping this stream does not use
        (child contexts, partition copies, per-record state) than on the record itself.
        When no stream map, flattening, deselected field or dry-run limit applies, records
        go straight to the buffered writer, already serialised, a block at a time; metrics
        and state finalisation stay the SDK's.
        """
        if not (
            self.fast_path()
            and kwargs.get("write_messages", True)
            and self.ABORT_AT_RECORD_COUNT is None
        ):
            # Passed on as the SDK called it: its hooks may have changed.
            yield from super()._sync_records(*args, **kwargs)
            return
        writer = self._tap.message_writer
        state_manager = self.state_manager
        with self.get_record_counter() as counter, self.get_sync_timer():
            for count, data, _unknown in self.sync_blocks():
                writer.write_bytes(data)
                state_manager.is_flushed = False
                counter.increment(count)
        self._finalize_state(self.stream_state)
        self._write_state_message()

    def _write_record_message(self, *args: Any, **kwargs: Any) -> None:
        """Write a RECORD, straight to the buffered writer when the SDK has nothing to do."""
        if not self.fast_path():
            super()._write_record_message(*args, **kwargs)
            return
        (record,) = args or (kwargs["record"],)
        envelope = self.envelope
        self._tap.message_writer.write_record(envelope.prefix, record, envelope.suffix)
        self.state_manager.is_flushed = False

    def _abort_sync(self, *args: Any, **kwargs: Any) -> None:
        """Flush buffered messages when a sync stops early (record limit, signal)."""
        try:
            super()._abort_sync(*args, **kwargs)
        finally:
            flush = getattr(self._tap.message_writer, "flush", None)
            if flush is not None:
                flush()

    def write_state_now(self) -> None:
        """Write the stream's STATE message now (after a window, or a job's creation)."""
        self.state_manager.is_flushed = False
        self._write_state_message()
