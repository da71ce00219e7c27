"""The Python pass's quick way gives the very bytes the careful way gives, or leaves the line to it.

The Python pass reads a piece the quick way (each line cut once, its date-times found by
one search per line, its nested date-times judged by bytes) and gives any line it cannot
prove to the careful way, which keeps every line's place in the piece and asks simdjson
every open question. Both must agree to the byte: the records (with their ``Z``s and
nulls), the unknown fields' types, and every refusal's words. The cases below aim at the
quick way's proofs (a nested copy of a date-time key before the record's own, a key that
ends in one, whitespace, a nested date-time twice or needing a change, a carriage return
before the newline); the property test writes generated records with random escapes and
whitespace, several to a piece.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_activities.errors import DataFormatError
from tap_activities.records.framing import Framing
from tap_activities.sources.peopleai.lines.native import native_frame
from tap_activities.sources.peopleai.lines.record_lines import RecordLines
from tap_activities.sources.peopleai.lines.scan import screen_piece
from tests.kit.fuzzkit import DATE_TIMES, FIELDS
from tests.kit.json_spellings import plain, records, spelled, written

RECORD = Framing(b'{"type":"RECORD","record":', b'}\n{"type":"RECORD","record":', b"}\n")
T = "2026-08-21T10:00:00"


def outcome(content: bytes, way: str) -> tuple:
    """One piece the ``quick`` way (as the pass runs), the ``careful`` way, or ``native``."""
    lines = RecordLines(FIELDS, date_times=DATE_TIMES, native=way == "native")
    end = len(content)
    try:
        if way == "native":
            blocks = list(lines.blocks(_Once(content), where="w", framing=RECORD))
            return ("ok", *blocks[0]) if blocks else ("ok", None)
        if way == "quick":
            block, _ = lines._python_piece(
                content, end, number=1, where="w", framing=RECORD, error=DataFormatError
            )
        else:
            block, _ = lines._careful_piece(
                content,
                end,
                screen=screen_piece(content),
                number=1,
                where="w",
                framing=RECORD,
                error=DataFormatError,
            )
    except DataFormatError as exc:
        return "error", str(exc)
    return ("ok", *block) if block is not None else ("ok", None)


class _Once:
    """A body read in one piece."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def read(self, _size: int) -> bytes:
        content, self.content = self.content, b""
        return content


def agree(content: bytes) -> tuple:
    """The quick way's outcome, once checked against the careful way's (and the native's)."""
    quick, careful = outcome(content, "quick"), outcome(content, "careful")
    assert quick == careful, f"the quick way differs on {content!r}"
    if native_frame() is not None:
        assert outcome(content, "native") == quick, f"the native pass differs on {content!r}"
    return quick


def went_quick(content: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the quick way settled every line of ``content`` itself."""
    asked: list[bytes] = []
    careful = RecordLines._careful_piece

    def spy(self: RecordLines, data: bytes, *args: object, **kwargs: object) -> object:
        asked.append(data)
        return careful(self, data, *args, **kwargs)

    monkeypatch.setattr(RecordLines, "_careful_piece", spy)
    outcome(content, "quick")
    monkeypatch.undo()
    return not asked


@pytest.mark.parametrize(
    "line",
    [
        # the usual lines, which the quick way settles alone
        f'{{"uid":"a","timestamp":"{T}","ingest_timestamp":"{T}","crm_status":{{"push_time":null}}}}',
        f'{{"uid":"a","timestamp":"{T}Z","ingest_timestamp":null,"stats":{{}}}}',
        f'{{"timestamp":"{T}.250","ingest_timestamp":"{T}+02:00","tags":["x"]}}',
        f'{{"timestamp" : "{T}" , "ingest_timestamp":\t"{T}" }}',
        f'{{"uid":"a","timestamp":"{T}"}}\r',
        f'{{"subject":"say \\"timestamp\\":\\"{T}\\"","timestamp":"{T}"}}',
    ],
)
def test_the_usual_lines_are_settled_the_quick_way(line, monkeypatch):
    content = line.encode() + b"\n"
    assert agree(content)[0] == "ok"
    assert went_quick(content, monkeypatch)


@pytest.mark.parametrize(
    "line",
    [
        # an object stands before the record's own date-time: perhaps a nested copy
        f'{{"crm_status":{{"pushed":true,"push_time":"{T}-05:00"}},"timestamp":"{T}"}}',
        f'{{"stats":{{"timestamp":"{T}"}},"timestamp":"{T}"}}',
        f'{{"stats":{{"timestamp":"{T}"}},"timestamp":null}}',
        # a key that ends in a date-time key's name, with an escaped quote before it
        f'{{"x\\"timestamp":"{T}","timestamp":"{T}Z"}}',
        f'{{"x\\\\":"\\\\","timestamp":"{T}"}}',
        # the date-time key spelled with an escape, a plain nested copy after it
        f'{{"\\u0074imestamp":"{T}","stats":{{"timestamp":"{T}"}}}}',
        # values the careful way fixes or refuses
        '{"timestamp":"2026-02-30T10:00:00"}',
        '{"timestamp":"2026-08-21 10:00:00"}',
        '{"timestamp":5}',
        f'{{"timestamp":"{T[:-1]}\\u0030"}}',
        # a nested date-time that needs a Z, is twice, or hides behind an escape
        f'{{"crm_status":{{"push_time":"{T}"}}}}',
        f'{{"crm_status":{{"push_time":null,"push_time":"{T}Z"}}}}',
        f'{{"crm_status":{{"\\u0070ush_time":"{T}"}},"subject":"\\"push_time\\":null"}}',
        f'{{"crm_status":{{"pushed":true}},"tags":[{{"push_time":"{T}"}}]}}',
        # a key twice, lines that are no object, a blank line, a line too deep
        f'{{"timestamp":"{T}","timestamp":"{T}"}}',
        f'["timestamp","{T}"]',
        "5",
        "",
        "[" * 300 + "]" * 300,
    ],
)
def test_lines_the_quick_way_cannot_prove_get_the_careful_way_s_answer(line):
    content = line.encode() + b"\n"
    agree(content)
    agree(b'{"uid":"before"}\n' + content + b'{"uid":"after"}\n')


def test_an_earlier_line_s_error_is_still_the_one_reported(monkeypatch):
    content = f'{{"timestamp":"{T}"}}\n{{"timestamp":"2026-13-01T00:00:00"}}\n{{"uid":\n'.encode()
    verdict = agree(content)
    assert verdict[0] == "error"
    assert verdict[1].startswith("w: line 2 ")


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    piece=st.lists(records(), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_piece_gives_the_careful_way_s_bytes(piece, seed):
    rng = random.Random(seed)
    lines = []
    for record in piece:
        speller = rng.choice((plain, plain, spelled))
        space = rng.choice((None, None, random.Random(rng.random())))
        ending = rng.choice(("\n", "\n", "\n", "\r\n", " \n"))
        lines.append(written(record, speller, rng, space) + ending)
    content = "".join(lines).encode()
    agree(content)
