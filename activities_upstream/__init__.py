"""A local stand-in for the People.ai and ChartMogul export APIs, for tests, demo and bench.

It is a real HTTP server on 127.0.0.1 (three ports: People.ai API, ChartMogul API, an
S3-like file host) that behaves as the two API documents say, with deterministic data and
switchable faults. It never imports the tap: it must stay faithful to the documents, not
to the tap's convenience.
"""

from activities_upstream.config import UpstreamConfig
from activities_upstream.server import LocalUpstream

__all__ = ["LocalUpstream", "UpstreamConfig"]
