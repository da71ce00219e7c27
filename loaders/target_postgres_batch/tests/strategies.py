"""Generated streams for the differential fuzz: JSON schemas, and records nobody chose to be kind.

A stream is a key, a JSON schema of the types taps emit (integer, number, string with and
without ``format`` date-time/date/time, boolean, object with and without properties and
``additionalProperties``, array, nullable and mixed unions), and BATCH lines. The lines are
written here token by token, not by ``json.dumps``, so they can hold what a serializer would
never write but a file may: integers with exponents (``1e2``), ``-0``, ``1.0``, 1e300,
duplicate keys, keys that differ only in case, NUL and lone surrogates as escapes, non-BMP
text, 1 MB strings, deep nesting, empty objects and arrays, values of another type than the
schema says, a blank line.

NUL (``\u0000``, which PostgreSQL's jsonb refuses) is written wherever a record can hold
it: in nested values under repeated keys (first or last), in keys of nested objects and of
the record, in arrays at any depth, beside escapes that only look like it.

A stream comes with a second batch: some of the same keys with changed values, new keys,
and a schema widened by new properties and looser types; its BATCH messages have one to
three files, and the fallback's chunks are a record or a few, or its default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

from target_postgres_batch import fallback

# Property names: case twins, a space, a quote, non-ASCII, SQL words.
NAMES = ["a", "A", "b", "select", "Mixed Case", "ünï", "n_1", "x", "X", "_sdc_extra", "c", "d",
         "e", "f", 'q"uote']  # fmt: skip
FORMATS = [None, "date-time", "date", "time"]

# ---- values, as JSON text ----------------------------------------------------------------

INTEGER_TEXTS = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.sampled_from(
        ["0", "-0", "1e2", "1E+2", "1e0", "10e-1", "1.0", "1.5", "-1", "9223372036854775808",
         "-9223372036854775809", "123456789012345678901234567890", "2e63", "0.0", "1e-2"]
    ),
)  # fmt: skip
NUMBER_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str).filter(
        lambda s: "E" not in s or s[0].isdigit() or s[0] == "-"
    ),
    st.sampled_from(
        ["1e300", "-1e300", "1E+308", "5e-324", "2.2250738585072014e-308", "-0", "-0.0",
         "0.1000000000000000055511151231257827", "1.10", "100", "1e15", "999999999999999.9",
         "123456789012345.67", "0.30000000000000004", "1e-7", "4e+23", "12345678901234567890"]
    ),
)  # fmt: skip
DATE_TEXTS = st.sampled_from(
    ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00.123456+02:00", "2024-01-01 10:00:00",
     "2024-01-01", "2024-02-30", "2024-01-01T24:00:00Z", "10:30:00", "10:30:00.5+01",
     "24:00:00", "infinity", "-infinity", "epoch", " 2024-01-01 ", "2024-01-01T10:00:00",
     "1999-12-31T23:59:60Z", "0001-01-01T00:00:00Z", "not a date", ""]
)  # fmt: skip
PLAIN_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
HOSTILE_TEXT_ESCAPED = st.sampled_from(
    ['"NaN"', '"nan"', '"Infinity"', '"-inf"', '"a\\u0000b"', '"\\u0000"', '"\\ud800"',
     '"x\\udfff"', '"\\ud83d\\ude00"', '"tab\\there"', '"\\"quoted\\" \\\\ back"', '"😀 𝄞 𠀀"',
     '"line\\nbreak"', '"\\u00e9"', '"  spaced  "', '"true"', '"12"', '" 12 "', '"1e2"']
)  # fmt: skip
# NUL as PostgreSQL's jsonb refuses it, escapes around it, and what only looks like it (an
# escaped backslash before u0000): for values nested under repeated keys, and for keys.
NUL_TEXTS = st.sampled_from(
    ['"a\\u0000b"', '"\\u0000"', '"\\u0000\\u0000"', '"x\\u0000\\ud800"',
     '"\\\\u0000"', '"\\u0001\\u001f"', '"\\u0000😀"', '"\\ud83d\\ude00\\u0000"']
)  # fmt: skip
# A 1 MB string, made when drawn: a strategy holding it would print it in its repr.
MEGA = st.just(1 << 20).map(lambda size: '"' + "m" * size + '"')


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


STRING_TEXTS = st.one_of(
    PLAIN_TEXT.map(_string),
    PLAIN_TEXT.map(lambda s: json.dumps(s, ensure_ascii=True)),
    HOSTILE_TEXT_ESCAPED,
    DATE_TEXTS.map(_string),
    MEGA,
)
SCALAR_TEXTS = st.one_of(
    INTEGER_TEXTS, NUMBER_TEXTS, STRING_TEXTS, st.sampled_from(["true", "false", "null"])
)


def _object(members: list[tuple[str, str]]) -> str:
    return _object_of_texts([(_string(k), v) for k, v in members])


def _object_of_texts(members: list[tuple[str, str]]) -> str:
    """An object of (key as JSON text, value as JSON text) members, in this order."""
    return "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


# Keys of nested objects, as JSON text: case twins, "k" also written as an escape (the same
# key to Python and to PostgreSQL), NUL and a lone surrogate in keys, an escaped quote.
KEY_TEXTS = st.sampled_from(
    ['"k"', '"K"', '"k"', '"\\u006b"', '"ü"', '""', '"a b"', '"\\""', '"0"', '"k\\u0000"',
     '"\\u0000"', '"\\ud800"', '"\\ud83d\\ude00"']
)  # fmt: skip


@st.composite
def _rarely(draw, common: st.SearchStrategy[str], rare: st.SearchStrategy[str], one_in: int):
    """A value of ``rare`` one time in ``one_in``, else of ``common``."""
    die = draw(st.randoms(use_true_random=True))
    return draw(rare if die.randint(1, one_in) == 1 else common)


@st.composite
def _repeated_key(draw, inner: st.SearchStrategy[str]) -> str:
    """An object whose key repeats: often NUL or another escape in its first or last value."""
    key = draw(KEY_TEXTS)
    nul, other = draw(_rarely(inner, NUL_TEXTS, 2)), draw(inner)
    first, last = (nul, other) if draw(st.booleans()) else (other, nul)
    between = draw(st.lists(st.tuples(KEY_TEXTS, inner), max_size=2))
    return _object_of_texts([(key, first), *between, (key, last)])


def json_texts(depth: int = 3) -> st.SearchStrategy[str]:
    """Any JSON value as text: scalars, and objects/arrays with duplicate or case-twin keys.

    Nested objects repeat keys (often, with NUL in the first or the last value) and hold
    keys with NUL; NUL and escapes also appear in arrays at any depth.
    """
    return st.recursive(
        _rarely(SCALAR_TEXTS, NUL_TEXTS, 8),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(_array),
            st.lists(st.tuples(KEY_TEXTS, inner), max_size=4).map(_object_of_texts),
            _repeated_key(inner),
        ),
        max_leaves=8 if depth else 1,
    )


DEEP = st.sampled_from([40, 200, 600, 1200, 5000]).map(
    lambda n: '{"d":' + "[" * n + "1" + "]" * n + "}"
)
DEEP_ARRAY = "[" * 3000 + "]" * 3000


# ---- schemas -----------------------------------------------------------------------------


@dataclass
class Property:
    """One property of a stream: its JSON schema, and how to make its values."""

    kind: str  # integer number string boolean object array
    nullable: bool
    fmt: str | None = None
    extra_types: list[str] = field(default_factory=list)
    items: str | None = None
    additional: object = None  # additionalProperties, for objects

    def schema(self) -> dict:
        types = [self.kind, *self.extra_types] + (["null"] if self.nullable else [])
        found: dict = {"type": types if len(types) > 1 or self.nullable else self.kind}
        if self.fmt:
            found["format"] = self.fmt
        if self.kind == "object":
            found["properties"] = {"p": {"type": ["string", "null"]}} if self.items else {}
            if self.additional is not None:
                found["additionalProperties"] = self.additional
        if self.kind == "array":
            found["items"] = {"type": [self.items or "string", "null"]}
        return found

    def widened(self) -> Property:
        """A looser type for the second batch, as a tap's next release may send."""
        if self.kind == "integer" and not self.extra_types:
            return Property("number", True)
        return Property(self.kind, True, self.fmt, self.extra_types, self.items, self.additional)


@st.composite
def properties(draw) -> Property:
    kind = draw(st.sampled_from(["integer", "number", "string", "boolean", "object", "array"]))
    prop = Property(kind, draw(st.booleans()))
    if kind == "string":
        prop.fmt = draw(st.sampled_from(FORMATS))
    if kind == "array":
        prop.items = draw(st.sampled_from(["string", "integer", "number", "boolean", "object"]))
    if kind == "object":
        prop.items = draw(st.sampled_from([None, "p"]))
        prop.additional = draw(st.sampled_from([None, True, False, {"type": "string"}]))
    if draw(st.randoms(use_true_random=True)).randint(0, 9) == 0:  # a union of two types
        prop.extra_types = [draw(st.sampled_from(["string", "integer", "number", "boolean"]))]
        prop.extra_types = [t for t in prop.extra_types if t != kind]
    return prop


PLAIN = {
    "integer": st.integers(-(2**40), 2**40).map(str),
    # Floats only: a list of ints and Decimals is one the stock target cannot bind at all.
    "number": st.floats(-1e9, 1e9, allow_nan=False).map(repr),
    "string": PLAIN_TEXT.map(_string),
    "boolean": st.sampled_from(["true", "false"]),
    "object": st.lists(st.tuples(st.sampled_from(["k", "p", "K"]), SCALAR_TEXTS), max_size=3).map(
        _object
    ),
}
HOSTILE = {
    "integer": INTEGER_TEXTS,
    "number": NUMBER_TEXTS,
    "string": STRING_TEXTS,
    "boolean": st.sampled_from(["true", "false"]),
    "object": st.one_of(json_texts().filter(lambda s: s.startswith("{")), st.just("{}"), DEEP),
}


def _of_type(kind: str, fmt: str | None, hostile: bool) -> st.SearchStrategy[str]:
    if kind == "string" and fmt:
        return DATE_TEXTS.map(_string)
    return (HOSTILE if hostile else PLAIN)[kind]


@st.composite
def value_text(draw, prop: Property, calm: int) -> str:
    """A value for ``prop``: plain and of its type, or 5 in ``calm`` hostile or any JSON."""
    # A die seeded by hypothesis: its own integers lean to the ends of their range.
    roll = draw(st.randoms(use_true_random=True)).randint(0, calm)
    if roll == 0:
        return draw(json_texts())
    if roll == 1:
        return "null"
    hostile = roll <= 4
    if prop.kind == "array":
        if hostile and draw(st.booleans()):
            return draw(st.sampled_from(["[]", "[[]]", "[null]", '{"a": 1}', DEEP_ARRAY]))
        item = _of_type(prop.items or "string", None, hostile) | st.just("null")
        return _array(draw(st.lists(item, max_size=4)))
    if prop.kind == "string" and prop.fmt and not hostile:
        return _string({"date-time": "2024-03-01T10:00:00Z", "date": "2024-03-01",
                        "time": "10:00:00"}[prop.fmt])  # fmt: skip
    return draw(_of_type(prop.kind, prop.fmt, hostile))


@dataclass
class Stream:
    """A generated stream: schema, keys, and the two batches' lines."""

    properties: dict[str, Property]
    key_kind: str | None  # "string", "integer" or None (no key)
    first: list[str]
    second: list[str]
    added: dict[str, Property]
    use_copy: bool
    files: int  # files per BATCH message
    chunk_records: int  # records per chunk of the fallback (fallback.CHUNK_RECORDS)

    def schema(self, second: bool = False) -> dict:
        props = dict(self.properties)
        if second:
            props = {name: p.widened() for name, p in props.items()} | self.added
        found = {name: p.schema() for name, p in props.items()}
        if self.key_kind:
            found["id"] = {"type": self.key_kind}
        return {"type": "object", "properties": found}

    @property
    def key_properties(self) -> list[str]:
        return ["id"] if self.key_kind else []


KEYS_STRING = st.sampled_from(['"a"', '"b"', '"A"', '"c"', '"ü"', '"a "', '"1"'])
KEYS_INTEGER = st.sampled_from(["1", "2", "3", "-5", "1e0", "9223372036854775807"])


@st.composite
def records(draw, props: dict[str, Property], key_kind: str | None, calm: int) -> str:
    """One BATCH line: a record of ``props`` (some missing), rarely something else."""
    die = draw(st.randoms(use_true_random=True))
    if die.randint(0, calm * 5) == 0:
        return draw(st.sampled_from(["", "[]", "null", '"x"', "{}", " {} "]))
    members = []
    if key_kind:
        members.append(("id", draw(KEYS_STRING if key_kind == "string" else KEYS_INTEGER)))
    for name, prop in props.items():
        if die.randint(0, 4) > 0:
            members.append((name, draw(value_text(prop, calm))))
    if die.randint(0, calm) == 0:  # a property the schema does not have, NUL in a name
        name = draw(st.sampled_from(["extra", "a", "A", "extra\x00", "\x00", "a\x00"]))
        members.append((name, draw(json_texts())))
    if members and die.randint(0, calm) == 0:  # the same key twice, often with NUL
        name, _ = draw(st.sampled_from(members))
        members.append((name, draw(_rarely(SCALAR_TEXTS, NUL_TEXTS, 3))))
    order = draw(st.permutations(range(len(members))))
    return _object([members[i] for i in order])


@st.composite
def streams(draw) -> Stream:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    props = {name: draw(properties()) for name in names}
    key_kind = draw(st.sampled_from(["string", "string", "integer", None]))
    added_names = [n for n in ["added", "Added"] if draw(st.booleans())]
    added = {name: draw(properties()) for name in added_names}
    widened = {name: p.widened() for name, p in props.items()} | added
    # How rarely a value is hostile: 5 in 20 (most such streams fail on the stock target
    # too) to 5 in 2000 (most load, and exercise the fast path).
    calm = draw(st.sampled_from([20, 200, 2000]))
    first = draw(st.lists(records(props, key_kind, calm), min_size=1, max_size=8))
    second = draw(st.lists(records(widened, key_kind, calm), min_size=1, max_size=8))
    return Stream(
        properties=props,
        key_kind=key_kind,
        first=first,
        second=second,
        added=added,
        use_copy=draw(st.booleans()),
        files=draw(st.sampled_from([1, 1, 2, 3])),
        # Chunks of a record or a few, so a message that falls back splits its files as a
        # long file does; or the default, the stock target's one batch per file.
        chunk_records=draw(st.sampled_from([1, 2, 3, fallback.CHUNK_RECORDS])),
    )
