"""The Singer side: the stream core, the SDK hooks of the fast path, output, BATCH files, state."""
