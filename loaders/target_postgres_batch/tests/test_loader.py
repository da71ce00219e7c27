# Direct runs of both targets on hand-made BATCH files.
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "s": {"type": ["string", "null"]},
        "ts": {"type": ["string", "null"], "format": "date-time"},
        "i": {"type": ["integer", "null"]},
        "n": {"type": ["number", "null"]},
        "b": {"type": ["boolean", "null"]},
        "o": {"type": ["object", "null"], "properties": {}},
        "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "objs": {"type": ["array", "null"], "items": {"type": ["object", "null"]}},
    },
}
EDGES = [
    r'{"id":"a","s":"first a","n":1}',
    r'{"id":"b","s":"h\u00e9llo 世界 😀 \"q\" \\ \n\t","ts":"2024-01-01T10:00:00.123456Z","i":5,'
    r'"n":1.10,"b":true,"o":{"x":1.50,"y":[1,null,"z"],"e":"😀"},"tags":["a",null,"c"],'
    r'"objs":[{"k":1},null,{"k":"v"}]}',
    r'{"id":"c","s":null,"ts":null,"i":null,"n":null,"b":null,"o":null,"tags":null,"objs":null}',
    r'{"id":"d"}',
    r'{"id":"e","n":1E+2,"i":-9007199254740993,"tags":[],"objs":[],"o":{},"s":"",'
    r'"ts":"2024-03-01T23:59:59+02:00"}',
    r'{"id":"f","n":0.000000000000000000001,"b":false,"ts":"2024-01-01","extra":"x"}',
    r'{"id":"g","o":{"d":1.50,"big":123456789012345678901234567890.123,"neg":-0.0},'
    r'"n":12345678901234.5}',
    r'{"id":"h","n":1e14}',
    r'{"id":"i","n":-0.0}',
    r'{"id":"j","n":5e-300}',
    r'{"id":"k","n":0.30000000000000004,"i":0}',
    r'{"id":"l","n":0.1000000000000000055511151231257827}',
    r'{"id":"m","n":-123456789012345.67}',
    r'{"id":"n","n":0.8444218515250481}',
    r'{"id":"a","s":"the last a wins","n":0.1}',
]
# Each makes the fast path give the message to the target's own path.
REFUSED = {
    "true into text": r'{"id":"r1","s":true}',
    "number into text": r'{"id":"r2","s":1E+2}',
    "string into boolean": r'{"id":"r3","b":"yes"}',
    "a number beyond 1e15": r'{"id":"r4","n":1e15}',
    "a number below 1e-300": r'{"id":"r8","n":2.2250738585072014e-308}',
    "an object into an array": r'{"id":"r5","tags":{"a":1}}',
    "a number in a text[]": r'{"id":"r6","tags":["a",5]}',
    "NUL in a string": r'{"id":"r7","s":"a\u0000b"}',
}


def target(name: str) -> Path:
    return require_path(LOADERS / name / "venv" / "bin" / name, "meltano install")


def load(name: str, schema: str, files: list[Path], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run one target on a SCHEMA, a BATCH of ``files`` and a STATE message."""
    config = tmp_path / f"{name}.json"
    config.write_text(
        json.dumps(
            {
                "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "trust",
                "database": "test", "default_target_schema": schema, "use_copy": True,
                "validate_records": False, "add_record_metadata": True,
            }
        )
    )  # fmt: skip
    messages = [
        {"type": "SCHEMA", "stream": "edge", "schema": SCHEMA, "key_properties": ["id"]},
        {
            "type": "BATCH",
            "stream": "edge",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [f"file://{f}" for f in files],
        },
        {"type": "STATE", "value": {"bookmarks": {"edge": {"done": True}}}},
    ]
    return subprocess.run(
        [str(target(name)), "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_batch(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def both_targets(schemas: list[str], files: list[Path], tmp_path: Path) -> str:
    """Load ``files`` with the stock target and the loader; the loader's log."""
    stock, fast = schemas
    done = load("target-postgres", stock, files, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    done = load(LOADER, fast, files, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"bookmarks": {"edge": {"done": True}}}
    want, got = typed_rows(stock, "edge", "id", sdc=True), typed_rows(fast, "edge", "id", sdc=True)
    assert got == want
    return done.stderr


def test_edge_values_on_the_fast_path_are_the_stock_targets(loader_env, schemas, tmp_path):
    files = [write_batch(tmp_path / "edges-1.jsonl.gz", EDGES[:6])]
    files.append(write_batch(tmp_path / "edges-2.jsonl.gz", EDGES[6:]))
    log = both_targets(schemas, files, tmp_path)
    assert "BATCH message of edge: 15 records from 2 files, COPY" in log, log[-3000:]
    assert "loaded the target's way" not in log, log[-3000:]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_values_the_fast_path_would_store_otherwise_go_the_targets_way(
    loader_env, schemas, tmp_path, case
):
    files = [write_batch(tmp_path / "refused.jsonl.gz", [*EDGES[:4], REFUSED[case]])]
    stock, fast = schemas
    stock_done = load("target-postgres", stock, files, tmp_path)
    fast_done = load(LOADER, fast, files, tmp_path)
    assert "refused by the COPY fast path" in fast_done.stderr, fast_done.stderr[-3000:]
    # The target's own path decides: the same outcome, and the same rows if it loads.
    assert fast_done.returncode == stock_done.returncode, (stock_done.stderr[-2000:], case)
    if stock_done.returncode == 0:
        assert typed_rows(fast, "edge", "id", sdc=True) == typed_rows(stock, "edge", "id", sdc=True)


def test_a_truncated_batch_file_fails_with_one_error_and_no_state(loader_env, schemas, tmp_path):
    good = write_batch(tmp_path / "good.jsonl.gz", EDGES[:6])
    bad = write_batch(tmp_path / "bad.jsonl.gz", EDGES[6:] * 500)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    _, fast = schemas
    done = load(LOADER, fast, [good, bad], tmp_path)
    assert done.returncode != 0
    # The traceback's last line: the error, and what it was raised from, once each.
    errors = [line for line in done.stderr.splitlines() if line.startswith("target_postgres_batch")]
    assert len(errors) == 1, done.stderr[-3000:]
    said = f"target_postgres_batch.files.BatchFileError: BATCH file file://{bad} cannot be read"
    assert errors[0].startswith(said + ": Compressed file ended"), errors
    assert "refused by the COPY fast path" not in done.stderr
    assert not done.stdout.strip(), "a STATE message came out of a failed load"
    with psycopg.connect(PG_DSN) as conn:
        found = conn.execute(
            "select count(*) from information_schema.tables where table_schema = %s", (fast,)
        ).fetchone()[0]
        rows = conn.execute(f'select count(*) from "{fast}".edge').fetchone()[0] if found else 0
    assert rows == 0, "rows of the failed BATCH message were kept"
