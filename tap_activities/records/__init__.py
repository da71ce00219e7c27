"""Records as bytes: JSON Lines framing and reading, and the data contract every parser keeps."""
