"""Unit tests: the tap's modules in this process (a local upstream in a thread at most)."""
