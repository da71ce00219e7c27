"""The documentation's reference, generated from the code and checked against it.

The settings table comes from ``tap-activities --about --format=json``, the streams and
their fields from ``--discover`` and ``schemas/*.json``, the troubleshooting lists from
the messages the code can end a run with (:mod:`doctools.messages`). ``python -m doctools
write`` rewrites the generated parts of the pages; ``python -m doctools check`` (and
``tests/packaging``) fails when a page and the code disagree. The project's home URL is
set in one place, ``[project.urls] Homepage`` in pyproject.toml (:mod:`doctools.home`).

This package reads the tap only through stable entry points: its command line, the
schema files and :mod:`tap_activities.errors`; it never imports a module deeper inside.
"""
