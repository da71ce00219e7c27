"""The Singer side: window runner, output, the SDK hooks of the fast path, BATCH files, state."""
