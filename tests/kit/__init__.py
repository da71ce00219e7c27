"""Shared helpers of the tests, for every kind: the tap as a process, the local upstream,
meltano, PostgreSQL, S3, the checks of a Singer output, and what must run in CI.
"""
