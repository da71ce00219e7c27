"""A minimal, stock singer-sdk tap reading activity records from a local JSONL file.

It is the baseline of the benchmark: what a straightforward SDK tap does with the same
records (default type conformance, default writer, ``json.loads`` per line). Nothing here
is tuned on purpose, but for one switch the SDK offers every tap: with
``STOCK_TAP_WRITER=msgspec`` it writes with the SDK's msgspec writer
(``singer_sdk.contrib.msgspec``), the fastest writer a stock tap can choose.

    python bench/stock_tap.py --config '{"path": "records.jsonl"}'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "peopleai_email.json"


class FileStream(Stream):
    """Every line of the file is one record."""

    name = "peopleai_email"
    primary_keys = ("uid",)
    schema_filepath = SCHEMA

    def get_records(self, context: dict | None) -> Any:
        """Yield the file's lines as dicts."""
        with Path(self.config["path"]).open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


class StockTap(Tap):
    """Baseline tap."""

    if os.environ.get("STOCK_TAP_WRITER") == "msgspec":
        from singer_sdk.contrib.msgspec import MsgSpecWriter

        message_writer_class = MsgSpecWriter

    name = "tap-stock"
    config_jsonschema = th.PropertiesList(
        th.Property("path", th.StringType, required=True)
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        """One stream."""
        return [FileStream(tap=self)]


if __name__ == "__main__":
    StockTap.cli()
