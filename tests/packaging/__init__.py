"""Packaging tests: the sdist and wheel, and installs of the package as users make them."""
