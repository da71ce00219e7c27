"""Process tests: the tap, or a script of this repository, run as its own process."""
