"""singer-sdk's standard tap tests, against the local upstream with both sources."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from activities_upstream import LocalUpstream
from tap_activities.tap import TapActivities
from tests.conftest import chartmogul_config, fast_upstream_config, peopleai_config

# The SDK builds the test class at import time from a fixed config, so the upstream it
# points at starts here and lives for the whole test session.
# The SDK's suite requires every record field to be in the catalog, while the tap passes
# unknown upstream fields through on purpose (tests/test_*_sync.py check that); so this
# upstream generates none.
_UPSTREAM = LocalUpstream(
    fast_upstream_config(seed=11, unknown_fields=False, chartmogul_extra_column=None)
)
_UPSTREAM.__enter__()
atexit.register(_UPSTREAM.__exit__, None, None, None)

CONFIG = {**peopleai_config(_UPSTREAM), **chartmogul_config(_UPSTREAM)}

TestTapActivities = get_tap_test_class(
    tap_class=TapActivities,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=500),
)
