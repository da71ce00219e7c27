"""One package per upstream API, each behind the source contract, listed in registry.py."""
