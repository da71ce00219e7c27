"""Differential fuzz: the loader stores what the stock target-postgres stores, on generated streams.

Each example is a generated stream (tests/strategies.py): a JSON schema and BATCH files of
hostile records, then a second SCHEMA, widened, with a second BATCH of changed and new
records, and a STATE after each. The stock ``TargetPostgres`` loads it into one schema and
``TargetPostgresBatch`` into another of the same PostgreSQL, in this process, with the same
config (``use_copy`` on or off). Then:

- both end alike: both load, or both fail (a failure is the stock target's own verdict on
  bad data, and the loader must reach it too, not load something instead);
- when both load, the tables are equal cell by cell (types and values as PostgreSQL writes
  them) and both emitted the same STATE.

Whether the loader took its fast path or gave the message to the target's way does not
matter here, only that the rows are the stock target's. The loader's fallback reads each
example's own chunk size (a record or a few, or its default), so messages that fall back
split their files as long files do. ``make test`` runs a short, seeded set (the same
examples every time); ``make fuzz-loader`` runs ``TPB_FUZZ_EXAMPLES`` random ones. Both
print the seed, at the end and when they fail: ``TPB_FUZZ_SEED`` with the same
``TPB_FUZZ_EXAMPLES`` runs the same examples again. Both print how many examples ran and
how each ended.
"""

from __future__ import annotations

import collections
import os
import re
import uuid

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from target_postgres.target import TargetPostgres

from target_postgres_batch import fallback
from target_postgres_batch.target import TargetPostgresBatch
from tests.kit import (
    batch_message,
    drop_schemas,
    first_difference,
    run_target,
    table_cells,
    target_config,
    write_batch,
)
from tests.strategies import Stream, streams

EXAMPLES = int(os.environ.get("TPB_FUZZ_EXAMPLES", "40"))
LONG = "TPB_FUZZ_EXAMPLES" in os.environ
SEED = int(os.environ.get("TPB_FUZZ_SEED", uuid.uuid4().int % 2**32 if LONG else 20261204))


def messages(stream: Stream, name: str, tmp_path, second: bool) -> list[dict]:
    """SCHEMA, BATCH (the batch's lines over ``stream.files`` files) and STATE."""
    lines = stream.second if second else stream.first
    parts = [lines[i :: stream.files] for i in range(stream.files)]
    urls = [
        write_batch(tmp_path / f"{name}-{int(second)}-{i}.jsonl.gz", part)
        for i, part in enumerate(parts)
        if part
    ]
    return [
        {
            "type": "SCHEMA",
            "stream": name,
            "schema": stream.schema(second),
            "key_properties": stream.key_properties,
        },
        batch_message(name, urls),
        {"type": "STATE", "value": {"bookmarks": {name: {"second": second}}}},
    ]


@pytest.fixture(scope="module")
def fuzz_schemas(pg_ready):
    names = (f"tpb_fuzz_stock_{os.getpid()}", f"tpb_fuzz_fast_{os.getpid()}")
    drop_schemas(*names)
    yield names
    drop_schemas(*names)


def test_the_loader_stores_what_the_stock_target_stores(fuzz_schemas, tmp_path_factory):
    stock_schema, fast_schema = fuzz_schemas
    outcomes: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()  # why the stock target failed
    numbers = iter(range(10**9))

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(stream=streams())
    def one_stream(stream: Stream) -> None:
        name = f"f{next(numbers)}"
        tmp_path = tmp_path_factory.mktemp(name)
        msgs = messages(stream, name, tmp_path, False) + messages(stream, name, tmp_path, True)
        config = {"use_copy": stream.use_copy, "validate_records": False}
        stock = run_target(TargetPostgres, target_config(stock_schema, **config), msgs)
        default_chunk, fallback.CHUNK_RECORDS = fallback.CHUNK_RECORDS, stream.chunk_records
        try:
            fast = run_target(TargetPostgresBatch, target_config(fast_schema, **config), msgs)
        finally:
            fallback.CHUNK_RECORDS = default_chunk
        try:
            assert fast.failed == stock.failed, (
                f"stock {'failed' if stock.failed else 'loaded'}: {stock.error!r:.300}; "
                f"the loader {'failed' if fast.failed else 'loaded'}: {fast.error!r:.300}"
            )
            if not stock.failed:
                difference = first_difference(
                    table_cells(stock_schema, name), table_cells(fast_schema, name)
                )
                assert not difference, difference
                assert fast.states == stock.states
        finally:
            drop_tables(name)
        fast_path = re.search(r", COPY \d", fast.log) is not None
        fell_back = "the target's way" in fast.log
        outcomes["both failed" if stock.failed else "both loaded"] += 1
        outcomes[f"fast path {'and fallback' if fell_back else 'only'}" if fast_path else
                 ("fallback only" if fell_back else "no BATCH loaded")] += 1  # fmt: skip
        if "failed in chunks; loaded again" in fast.log:
            outcomes["a file loaded again with each key's last record"] += 1
        if stock.failed:
            said = re.sub(r"[0-9a-f]{8}_[0-9a-f_]+", "<table>", str(stock.error))
            reasons[f"{type(stock.error).__name__}: {said.splitlines()[0][:70]}"] += 1

    def drop_tables(name: str) -> None:
        from tests.kit import connect

        with connect() as conn:
            for schema in fuzz_schemas:
                conn.execute(f'drop table if exists "{schema}"."{name}"')

    try:
        one_stream()
    except BaseException:
        # Whatever ended it (a difference, an error, Ctrl-C): how to run these examples again.
        print(f"\nfuzz FAILED: reproduce with TPB_FUZZ_SEED={SEED} "
              f"TPB_FUZZ_EXAMPLES={EXAMPLES}; before it: {dict(outcomes)}")  # fmt: skip
        raise
    ran = outcomes["both loaded"] + outcomes["both failed"]
    print(f"\nfuzz (seed {SEED}): {ran} examples without a difference: {dict(outcomes)}")
    print("the stock target's failures:", *reasons.most_common(), sep="\n  ")
    # Not a fuzz that proves nothing: most examples must load, and through both paths.
    assert outcomes["both loaded"] >= ran // 4, outcomes
    assert outcomes["fast path only"] >= 1, outcomes
