"""MeltanoLabs target-snowflake 0.20.4, loading into a local fakesnow server: for tests only.

The target's own load path runs unchanged: ``process_batch_files`` →
``insert_batch_files_via_internal_stage`` → ``put_batches_to_stage``, ``merge_from_stage``,
``remove_staged_files``, the sink's ``drop_file_format``, and the deletion of the loaded
files when ``clean_up_batch_files`` is set. Every statement is the target's own text. Only
the statements fakesnow 0.12.1 does not run are rewritten, at the DBAPI cursor (SQLAlchemy's
``before_cursor_execute``), into what they mean:

- ``PUT file://… '@~/target-snowflake/<sync id>'``: the file is copied, byte for byte, into
  a directory standing for the user stage ``@~`` (``FAKESNOW_STAGE_DIR``); the statement
  becomes a SELECT answering PUT's row (source, target, sizes, ``UPLOADED``).
- ``MERGE … USING (SELECT $1:… FROM '@~/…'(file_format => …) QUALIFY ROW_NUMBER() OVER
  (PARTITION BY keys ORDER BY SEQ8() DESC) = 1) s …``: the staged files become DuckDB's
  ``read_json_objects`` over those files (gzip detected, one JSON object per line, as the
  target's ``type = 'JSON' compression = 'AUTO'`` file format reads them), ``$1`` their
  one column, ``SEQ8()`` their row number in staging order. The target's casts, keys,
  QUALIFY and MERGE clauses stay as written; the QUALIFY goes one SELECT further out,
  because fakesnow's MERGE cannot take a QUALIFY that refers to select aliases.
- ``REMOVE '@~/…/'``: the staged files are deleted; the answer is one row per file.
- ``DROP FILE FORMAT IF EXISTS …``: answered as Snowflake does (the fake keeps its
  file formats).

Also: the connection goes to ``FAKESNOW_HOST``:``FAKESNOW_PORT`` over http; the MERGE runs
after ``USE SCHEMA`` of its table (fakesnow's MERGE needs a current schema); MERGEs are
serialised (fakesnow's MERGE uses a fixed work table of its own). ``COPY INTO`` from the
stage (streams without keys, or ``load_method: append-only``) is not emulated and fails
naming itself: every stream of tap-activities has keys.

``FAKESNOW_STAGE_LOG``, when set, is a file to which every emulated PUT and REMOVE appends
one JSON line (the source file, its size, SHA-256 and line count; the removed names), so
a test can see which files were staged and that they went.

The fakesnow server reads the staged files itself, so it must run on this machine. What
this proves: the tap's own BATCH files, as the tap wrote them, are what the target's own
MERGE loads, with the target's DDL, type mapping, casts and key handling. What it does
not: Snowflake's own parsing of those files and its speed (DuckDB's stand in for them).
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import event
from sqlalchemy.engine import Engine
from target_snowflake.connector import SnowflakeConnector
from target_snowflake.sinks import SnowflakeSink
from target_snowflake.target import TargetSnowflake

USER_STAGE = "@~/"
_MERGES = threading.Lock()
_PUT = re.compile(r"^\s*put\s+(?P<file>%\(\w+\)s|'[^']*')\s+'@~/(?P<path>[^']+)'\s*$", re.I)
_REMOVE = re.compile(r"^\s*remove\s+'@~/(?P<path>[^']+?)/?'\s*$", re.I)
_DROP_FORMAT = re.compile(r"^\s*drop\s+file\s+format\s+if\s+exists\s+(?P<name>.+?)\s*$", re.I)
_COPY = re.compile(r"^\s*copy\s+into\s+.*'@~/", re.I | re.S)
_MERGE = re.compile(
    r"^\s*merge into (?P<table>\S+) d using "
    r"\(select (?P<casts>.+?) from '@~/(?P<path>[^']+)'\s*\(file_format => (?P<format>[^)]+)\) "
    r"QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY (?P<keys>.+?) ORDER BY SEQ8\(\) DESC\) = 1\) s "
    r"(?P<rest>on .+)$",
    re.S,
)
ROW = '"_fake_stage_row"'
"""The staged files' row number: SEQ8() of the target's QUALIFY."""


def stage_root() -> Path:
    """The directory standing for the user stage ``@~`` (one per process unless set)."""
    global _STAGE_ROOT  # noqa: PLW0603 - one stage per process, made on first use
    if _STAGE_ROOT is None:
        given = os.environ.get("FAKESNOW_STAGE_DIR")
        if given:
            _STAGE_ROOT = Path(given)
        else:
            _STAGE_ROOT = Path(tempfile.mkdtemp(prefix="fakesnow-user-stage-"))
            atexit.register(shutil.rmtree, _STAGE_ROOT, True)
    return _STAGE_ROOT


_STAGE_ROOT: Path | None = None
_STAGED: dict[str, list[Path]] = {}
"""Staged files per stage path, in PUT order (SEQ8() follows it)."""


def _log(entry: dict[str, Any]) -> None:
    path = os.environ.get("FAKESNOW_STAGE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def _quote(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _put(source_uri: str, stage_path: str) -> str:
    """Copy the file into the stage; PUT's answer as a SELECT."""
    source = Path(unquote(urlparse(source_uri).path))
    folder = stage_root() / stage_path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    _STAGED.setdefault(stage_path.rstrip("/"), []).append(target)
    data = target.read_bytes()
    _log(
        {
            "put": source_uri,
            "stage": f"{USER_STAGE}{stage_path}/{source.name}",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "lines": _line_count(target),
        }
    )
    compression = "GZIP" if data[:2] == b"\x1f\x8b" else "NONE"
    answer = {
        "source": source.name,
        "target": source.name,
        "source_size": len(data),
        "target_size": len(data),
        "source_compression": compression,
        "target_compression": compression,
        "status": "UPLOADED",
        "message": "",
    }
    return "select " + ", ".join(f"{_quote(v)} as {k}" for k, v in answer.items())


def _line_count(path: Path) -> int:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())


def _remove(stage_path: str) -> str:
    """Delete the staged files under ``stage_path``; REMOVE's answer as a SELECT."""
    stage_path = stage_path.rstrip("/")
    folder = stage_root() / stage_path
    names = sorted(f"{stage_path}/{p.name}" for p in folder.glob("*")) if folder.is_dir() else []
    shutil.rmtree(folder, ignore_errors=True)
    _STAGED.pop(stage_path, None)
    _log({"remove": f"{USER_STAGE}{stage_path}/", "names": names})
    if not names:
        return "select null as name, null as result where false"
    rows = ", ".join(f"({_quote(n)}, 'removed')" for n in names)
    return f"select * from (values {rows}) as removed(name, result)"  # noqa: S608


def _merge(match: re.Match[str]) -> str:
    """The target's MERGE, its source the staged files through read_json_objects."""
    files = _STAGED.get(match["path"].rstrip("/"), [])
    if not files:
        msg = f"fake stage: nothing staged at @~/{match['path']}"
        raise RuntimeError(msg)
    listed = ", ".join(_quote(p) for p in files)
    staged = (
        f'(select json as "_fake_stage_v", row_number() over () as {ROW} '  # noqa: S608
        f"from read_json_objects([{listed}], format = 'newline_delimited'))"
    )
    casts = match["casts"].replace("$1:", '"_fake_stage_v":')
    source = (
        f"(select * from (select {casts}, {ROW} from {staged}) "  # noqa: S608 - the target's
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {match['keys']} ORDER BY {ROW} DESC) = 1) s"
    )
    return f"merge into {match['table']} d using {source} {match['rest']}"


def rewrite(statement: str, parameters: Any) -> tuple[str, Any, str | None]:
    """The statement the fake runs for ``statement``, its parameters, and a schema to use."""
    if put := _PUT.match(statement):
        file_param = put["file"]
        bound = file_param.startswith("%(")
        source = parameters[file_param[2:-2]] if bound else file_param[1:-1]
        return _put(source, put["path"]), {}, None
    if remove := _REMOVE.match(statement):
        return _remove(remove["path"]), {}, None
    if drop := _DROP_FORMAT.match(statement):
        name = drop["name"].split(".")[-1].strip('"')
        return f"select {_quote(name + ' successfully dropped.')} as status", {}, None
    if merge := _MERGE.match(statement):
        database, schema = merge["table"].split(".")[:2]
        return _merge(merge), parameters, f"{database}.{schema}"
    if _COPY.match(statement):
        msg = "fake stage: COPY INTO from @~ is not emulated (only MERGE: streams with keys)"
        raise NotImplementedError(msg)
    return statement, parameters, None


def _before_cursor_execute(  # noqa: PLR0917 - SQLAlchemy's event signature
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    new_statement, new_parameters, schema = rewrite(statement, parameters)
    if schema:
        cursor.execute(f"use schema {schema}")
    return new_statement, new_parameters


class FakeSnowflakeConnector(SnowflakeConnector):
    """The target's connector, connected to fakesnow, its stage SQL emulated at the cursor."""

    def get_connect_args(self) -> dict[str, Any]:
        """The target's connect args, pointed at the fake (which needs no account host)."""
        args = super().get_connect_args()
        args.update(
            host=os.environ.get("FAKESNOW_HOST", "127.0.0.1"),
            port=int(os.environ["FAKESNOW_PORT"]),
            protocol="http",
            network_timeout=60,  # an internal error of the fake is an HTTP 500, retried long
        )
        args["session_parameters"] = {
            **args.get("session_parameters", {}),
            "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
        }
        return args

    def create_engine(self) -> Engine:
        """The target's engine, with the stage statements rewritten before they run."""
        engine = super().create_engine()
        event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)
        return engine

    def merge_from_stage(self, *args: Any, **kwargs: Any) -> int:
        """The target's own MERGE, one at a time (fakesnow's MERGE has one work table)."""
        with _MERGES:
            return super().merge_from_stage(*args, **kwargs)


class FakeSnowflakeSink(SnowflakeSink):
    """The target's sink with the fake's connector."""

    connector_class = FakeSnowflakeConnector


class TargetSnowflakeFake(TargetSnowflake):
    """target-snowflake against fakesnow (FAKESNOW_HOST, FAKESNOW_PORT)."""

    name = "target-snowflake"
    default_sink_class = FakeSnowflakeSink
