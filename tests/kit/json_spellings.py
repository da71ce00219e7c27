"""Generated People.ai records, and ways to write one as a JSON line.

The property tests of the fragment passes draw records here: schema fields (some absent),
date-times of every kind, nested and extra fields, now and then a key twice. A record is
a list of pairs, so that its key order and its repeats survive; :func:`written` writes it
with every key and string through a speller (:func:`plain`, or :func:`spelled`, which
chooses an escape at random for each character) and, if asked, JSON whitespace at random
around its commas and colons.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import strategies as st

from tests.kit.fuzzkit import FIELDS, STAMPS

KEYS = st.one_of(
    st.sampled_from(
        (*FIELDS, "push_time", '"timestamp', "timestamp ", "Timestamp", "x/y", "\U0001f600", "")
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(STAMPS),
)
NESTED = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
STAMP_VALUES = st.one_of(st.sampled_from(STAMPS), st.none(), LEAVES, NESTED)


@st.composite
def records(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """A People.ai record: schema fields (some absent), date-times, extra and nested fields."""
    pairs: dict[str, Any] = {"uid": draw(TEXT)}
    for name in FIELDS[1:]:
        if draw(st.booleans()):
            if name in {"timestamp", "ingest_timestamp"}:
                pairs[name] = draw(STAMP_VALUES)
            elif name == "crm_status":
                pairs[name] = draw(
                    st.fixed_dictionaries({"pushed": st.booleans(), "push_time": STAMP_VALUES})
                    | NESTED
                )
            else:
                pairs[name] = draw(NESTED)
    pairs.update(draw(st.dictionaries(KEYS, NESTED, max_size=3)))
    ordered = draw(st.permutations(list(pairs.items())))
    if draw(st.integers(0, 19)) == 0:  # now and then a key twice: the same refusal wanted
        ordered.append(draw(st.sampled_from(ordered)))
    return ordered


SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
SHORT["\t"] = "\\t"


def spelled(text: str, rng: random.Random) -> str:
    """``text`` as a JSON string, each character written plainly or as one of its escapes."""
    out = []
    for char in text:
        code = ord(char)
        ways = [] if char in '"\\' or code < 0x20 else [char]
        if char in SHORT:
            ways.append(SHORT[char])
        if code > 0xFFFF:
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            ways.append(f"\\u{high:04x}\\u{low:04X}")
        else:
            ways += [f"\\u{code:04x}", f"\\u{code:04X}"]
        out.append(rng.choice(ways))
    return '"' + "".join(out) + '"'


def plain(text: str, _rng: random.Random) -> str:
    return json.dumps(text, ensure_ascii=False)


def written(value: Any, string: Any, rng: random.Random, space: random.Random | None = None) -> str:
    """``value`` as JSON, every key and string through ``string``; blanks drawn from ``space``."""
    if isinstance(value, str):
        return string(value, rng)
    if isinstance(value, dict):
        value = list(value.items())
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        members = (
            f"{spaced(space)}{string(k, rng)}{spaced(space)}:{spaced(space)}"
            f"{written(v, string, rng, space)}{spaced(space)}"
            for k, v in value
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(written(v, string, rng, space) for v in value) + "]"
    return json.dumps(value)


BLANKS = ("", "", "", " ", "\t", " \r ", "\r")
"""JSON whitespace a line may hold around its commas and colons (a newline ends it)."""


def spaced(rng: random.Random | None) -> str:
    """Whitespace at random where ``rng`` is given, else none."""
    return rng.choice(BLANKS) if rng is not None else ""
