"""singer-sdk's standard tap tests, against the local upstream with both sources."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from activities_upstream import LocalUpstream
from tap_activities.tap import TapActivities
from tests.kit.upstream import chartmogul_config, fast_upstream_config, peopleai_config

# The SDK builds the test class at import time from a config dict, and keeps that dict:
# it holds a stand-in upstream's settings until the fixture below, once this module's
# tests run, starts the real one and puts its settings in. Nothing starts at import.
# The SDK's suite requires every record field to be in the catalog, while the tap passes
# unknown upstream fields through on purpose (tests/test_*_sync.py check that); so this
# upstream generates none.
UPSTREAM_CONFIG = fast_upstream_config(seed=11, unknown_fields=False, chartmogul_extra_column=None)
_STAND_IN = SimpleNamespace(
    peopleai_url="http://127.0.0.1:9",  # the discard port: never asked before the update
    peopleai_client_id=UPSTREAM_CONFIG.peopleai_client_id,
    peopleai_client_secret=UPSTREAM_CONFIG.peopleai_client_secret,
    chartmogul_url="http://127.0.0.1:9",
    chartmogul_api_key=UPSTREAM_CONFIG.chartmogul_api_key,
)
CONFIG = {**peopleai_config(_STAND_IN), **chartmogul_config(_STAND_IN)}


@pytest.fixture(scope="module", autouse=True)
def local_upstream():
    """The upstream of the SDK's tests, serving while this module's tests run."""
    with LocalUpstream(UPSTREAM_CONFIG) as up:
        CONFIG.update({**peopleai_config(up), **chartmogul_config(up)})
        yield up


TestTapActivities = get_tap_test_class(
    tap_class=TapActivities,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=500),
)
