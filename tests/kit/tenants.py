"""meltano.yml's tenants: each one's own upstream, settings and schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from activities_upstream import LocalUpstream
from activities_upstream.data import CHARTMOGUL_TYPES, PEOPLEAI_TYPES
from tests.kit.meltano_kit import PG_DSN, schema_of, upstream_env
from tests.kit.must_run import require_module
from tests.kit.upstream import END, START, fast_upstream_config

psycopg = require_module("psycopg")


def tenant_env(tenant: str, up: LocalUpstream) -> dict[str, str]:
    """The tenant's own settings, as meltano's variables for its inherited extractor."""
    return upstream_env(up, "TAP_ACTIVITIES__" + tenant.upper().replace("-", "_") + "_")


def assert_rows_are_the_tenants_own(tenant: str, up: LocalUpstream) -> None:
    """The tenant's schema holds exactly its upstream's keys, every stream."""
    schema = schema_of(tenant)
    with psycopg.connect(PG_DSN) as conn:
        for kind in PEOPLEAI_TYPES:
            rows = {r[0] for r in conn.execute(f'select uid from "{schema}".peopleai_{kind}')}
            want = {r["uid"] for r in up.peopleai.records(kind, START, END)}
            assert rows == want, (tenant, kind)
        for kind in CHARTMOGUL_TYPES:
            rows = {r[0] for r in conn.execute(f'select uuid from "{schema}".chartmogul_{kind}')}
            assert rows == {r["uuid"] for r in up.chartmogul.rows(kind, START, END)}, tenant
    assert not up.violations, (tenant, up.violations)


@contextmanager
def tenant_upstreams(tenants: tuple[str, ...], env: dict[str, str]) -> Iterator[dict]:
    """One local upstream per tenant, each with other data; their settings put in ``env``."""
    with ExitStack() as stack:
        upstreams = {
            tenant: stack.enter_context(
                LocalUpstream(fast_upstream_config(seed=seed, peopleai_per_day=3 + seed))
            )
            for seed, tenant in enumerate(tenants, start=1)
        }
        for tenant, up in upstreams.items():
            env.update(tenant_env(tenant, up))
        yield upstreams
