"""tap-activities: a Singer tap for bulk activity exports (People.ai and ChartMogul)."""

__version__ = "0.1.0"
"""The one place the version is written: the build (hatch), ``--version``, ``--about``,
the User-Agent and CHANGELOG.md's newest entry all follow it."""
