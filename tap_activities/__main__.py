"""Allow ``python -m tap_activities``."""

from tap_activities.tap import cli

cli()
