"""target-postgres-batch: MeltanoLabs target-postgres whose BATCH files PostgreSQL loads itself."""

__version__ = "0.2.0"
"""The one place the version is written: the build (hatch) and CHANGELOG.md's newest entry."""
