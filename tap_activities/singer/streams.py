"""The stream core's output: a window's records as RECORD messages or BATCH files.

:class:`ExportStream` is the base class of every activity stream. Its windows are run by
:class:`~tap_activities.singer.window_runner.WindowRunner`; here each window's records go
out, by the fast path or the SDK's, and fields the schema does not list are declared
before the first record that carries them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from tap_activities.errors import ConfigError
from tap_activities.export.request import ExportRequest
from tap_activities.export.source import DeflatingSource
from tap_activities.export.status import JobSnapshot
from tap_activities.records.contract import (
    FieldTypes,
    SchemaDrift,
    date_time_paths,
    describe_types,
)
from tap_activities.records.deflated import DeflatedBlock
from tap_activities.records.framing import LINES, Block, Framing, decode_lines
from tap_activities.schemas import schema_directory
from tap_activities.singer.batch import BatchFileWriter
from tap_activities.singer.output import BufferedSingerWriter, RecordEnvelope
from tap_activities.singer.sdk_hooks import pop_deselected_record_properties
from tap_activities.singer.window_runner import WindowRunner

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig


AnyBlock = TypeVar("AnyBlock", Block, DeflatedBlock)


class ExportStream(WindowRunner):
    """Base class of every activity stream; subclasses say which source and type."""

    primary_keys: ClassVar[list[str]] = ["uid"]
    # Records are parsed from JSON and already hold JSON types: conformance would only
    # cost time and drop fields the schema does not list, which must pass through.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = StreamSchema(SchemaDirectory(schema_directory()))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields = tuple(self.schema.get("properties", {}))  # those a record lacks are null
        self._date_times = date_time_paths(self.schema)
        self.logger.addFilter(_quiet_sync_error)
        self._drift = SchemaDrift()
        self._fast_output: bool | None = None
        self.envelope = RecordEnvelope(self.name)

    @property
    def replication_method(self) -> str:
        """Always incremental: the bookmark is the last finished window, not a field."""
        return REPLICATION_INCREMENTAL

    # Output -------------------------------------------------------------------------------

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        """Emit every window's records in order, moving the bookmark after each window."""
        return self._each_window(self._window_records)

    def get_batches(
        self, batch_config: BatchConfig, context: dict | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: one or more files per window, so state still follows its records.

        The SDK writes the BATCH message and then a STATE message for every manifest
        yielded here; the bookmark moves only after a window's last manifest is out.
        The records in the files are counted as the SDK's ``record_count``
        (:meth:`_counted_files`): its BATCH path counts only files.
        """
        writer = BatchFileWriter(batch_config, self.tap_name, self.name)
        return self._counted_files(writer, self._manifests(writer))

    def _counted_files(
        self, writer: BatchFileWriter, manifests: Iterable[tuple[BaseBatchFileEncoding, list[str]]]
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """``manifests`` as they are, the records of each file counted as it is handed on."""
        with self.get_record_counter() as counter:
            counted = 0
            for manifest in manifests:
                counter.increment(writer.records - counted)
                counted = writer.records
                yield manifest

    def _manifests(
        self, writer: BatchFileWriter
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """Every window's files, by the fastest way the output allows."""
        client = self.runtime.client
        if (
            writer.writes_gzip_lines
            and isinstance(client, DeflatingSource)
            and self.can_write_directly()
        ):
            # A deflating source (People.ai): lines validated, null-filled and compressed in its
            # download workers; this thread only lays compressed blocks into files.
            fields, date_times = self._fields, self._date_times
            return self._each_window(
                lambda job, request: writer.deflated_manifests(
                    self._counted(
                        job, request, client.deflated_blocks(job, request, fields, date_times)
                    )
                )
            )
        if writer.writes_lines and self.can_write_directly():
            return self._each_window(
                lambda job, request: writer.line_manifests(self._window_blocks(job, request, LINES))
            )
        transform = self._batch_transform()
        return self._each_window(
            lambda job, request: writer.manifests(transform(self._window_records(job, request)))
        )

    def _batch_transform(self) -> Callable[[Iterable[dict]], Iterator[dict]]:
        """What the SDK does to a RECORD message's record, done to batch-file records too.

        The SDK's own BATCH path writes records untouched while its SCHEMA message is
        already mapped and flattened; here deselected fields, the stream map and
        flattening apply, so the files match the schema the target was sent. The SDK
        sends one manifest to every alias of a stream, so a map that splits a stream
        into several cannot be honoured in BATCH mode: that is refused, not ignored.
        """
        if self.can_write_directly():
            return iter
        maps = self.stream_maps
        if len(maps) != 1:
            msg = (
                f"'batch_config' with 'stream_maps' that send '{self.name}' to "
                f"{len(maps)} streams is not supported; use RECORD output for that stream"
            )
            raise ConfigError(msg)
        schema, mask = self.schema, self.mask

        def transform(records: Iterable[dict]) -> Iterator[dict]:
            for record in records:
                pop_deselected_record_properties(record, schema, mask)
                # Asked per record: a field declared on the way brings a new map.
                mapped = self.stream_maps[0].transform(record)
                if mapped is not None:
                    yield mapped

        return transform

    def sync_blocks(self) -> Iterator[Block]:
        """Every window's records in RECORD blocks, the bookmark moved after each window."""
        return self._each_window(
            lambda job, request: self._window_blocks(job, request, self.envelope.stamp())
        )

    def _window_records(self, job: JobSnapshot, request: ExportRequest) -> Iterator[dict[str, Any]]:
        """The window's records as dicts, for the SDK's record path and stream maps.

        Decoded from the very blocks the fast path writes (framed as JSON Lines): one read
        path per source, so both paths emit the same records under the same contract, and
        new fields are declared before the first record that carries them. The SDK writes
        them as this window's RECORD messages (:attr:`envelope`).
        """
        self.envelope.stamp()
        for block in self._window_blocks(job, request, LINES):
            yield from decode_lines(block.data)

    def _window_blocks(
        self, job: JobSnapshot, request: ExportRequest, framing: Framing
    ) -> Iterator[Block]:
        """The window's records, serialised and framed: ``(count, bytes, unknown)`` pieces.

        Schema fields a record lacks are null. People.ai records are never decoded: their
        JSON lines are validated and reused
        (:class:`~tap_activities.sources.peopleai.lines.record_lines.RecordLines`); other
        sources' records are serialised with orjson as they are parsed. Fields outside
        the schema are declared before the block that carries them goes on.
        """
        blocks = self.runtime.client.record_blocks(
            job, request, self._fields, framing, self._date_times
        )
        yield from self._counted(job, request, blocks)

    def _counted(
        self, job: JobSnapshot, request: ExportRequest, blocks: Iterable[AnyBlock]
    ) -> Iterator[AnyBlock]:
        """``blocks`` as they are, their new fields declared, counted, the window's proof logged.

        Counted per block, never per record; the progress line is looked at per block too
        (a clock read unless one is due).
        """
        tally, progress = self.tally, self.progress
        for block in blocks:
            self._window_count += block.count
            tally.records += block.count
            if block.unknown:
                self.declare(block.unknown)
            progress.tick()
            yield block
        self._log_window(job, request)

    def _log_window(self, job: JobSnapshot, request: ExportRequest) -> None:
        """The window's proof: export id, bytes declared against received, records emitted."""
        client = self.runtime.client
        proof = client.proof(job.job_id)
        said = proof.describe(getattr(client, "size_name", "size")) if proof else "no data read"
        self.logger.info(
            "%s: window %s export %s: %d record(s) emitted; %s",
            self.name,
            request.window,
            job.job_id,
            self._window_count,
            said,
        )

    def declare(self, seen: FieldTypes) -> None:
        """Declare fields the schema does not list, before a record carrying them goes out.

        New fields (and fields whose types widened) are added to the stream's raw schema,
        the stream maps are built again from it (so a map or flattening sees them as the
        SDK would), and the updated SCHEMA message is written. A field deselected by name
        in the catalog stays out: its records lose it on the SDK path, as any other
        deselected field. Each change is logged once.
        """
        changes = self._drift.absorb(seen)
        if not changes:
            return
        mapper = self.parent_tap.mapper
        raw = copy.deepcopy(mapper.stream_maps[self.name][0].raw_schema)
        properties = raw.setdefault("properties", {})
        declared = []
        for name, schema, new in changes:
            if not self.mask[("properties", name)]:
                if new:
                    self.logger.info(
                        "%s: field '%s' is not in the schema and is deselected: left out",
                        self.name,
                        name,
                    )
                continue
            properties[name] = schema
            declared.append(name)
            if new:
                self.tally.new_fields.append(name)
            self.logger.warning(
                "%s: %s '%s' (%s), which the schema does not list: declared in an updated "
                "SCHEMA message",
                self.name,
                "new field" if new else "field widened:",
                name,
                describe_types(schema),
            )
        if declared:
            before = [m.transformed_schema for m in self.stream_maps]
            mapper.register_raw_stream_schema(self.name, raw, self.primary_keys)
            self.rebuild_stream_maps()
            # A map that pins or drops the field leaves what targets see unchanged: a
            # SCHEMA message would only make them start a new sink for nothing.
            if [m.transformed_schema for m in self.stream_maps] != before:
                self.write_schema_message()

    def can_write_directly(self) -> bool:
        """True when no stream map, flattening or deselected field would change a record."""
        maps = self.stream_maps
        return (
            isinstance(self.parent_tap.message_writer, BufferedSingerWriter)
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == self.name
            and all(self.mask.values())
        )


def _quiet_sync_error(record: logging.LogRecord) -> bool:
    """Keep the SDK's "An unhandled error occurred while syncing" off the log above debug.

    The SDK logs it at ERROR before it re-raises; the CLI's own line follows and says what
    happened and where (stream, window, job). Two error lines for one error, the vaguer
    first, send users after the wrong one.
    """
    return not str(record.msg).startswith("An unhandled error occurred while syncing") or (
        logging.getLogger("tap_activities").isEnabledFor(logging.DEBUG)
    )
