"""One package per upstream API, each behind the same small client interface."""
