"""Delete the BATCH files a pipeline's earlier runs left, after a run of it succeeded.

target-postgres loads the tap's BATCH files and leaves them where they are, so a
pipeline's batch directory grows every night. Run this right after a *successful*
``meltano run`` of that pipeline, with the time the run started::

    started=$(date +%s)
    meltano --environment=prod run tap-activities--peopleai-email target-postgres--peopleai-email
    python3 orchestration/prune_batches.py --started "$started" file:///srv/meltano/.meltano/run/tap-activities-batches/peopleai-email

(``orchestration/run_pipeline.sh`` does exactly that.) It deletes the tap's files
(``…tap-activities--<stream>-<uuid>-<n>.json[.gz]``) lying directly in that directory
whose modification time is before ``--started``. Why that can never delete a file whose
STATE is not committed:

- a successful ``meltano run`` has committed the state of everything it loaded before it
  exits 0, so every file of an *earlier* run is either loaded and behind committed state,
  or left by a failed run whose windows this successful run exported again into new files;
- the files of the run that just succeeded are kept (written after ``--started``): the
  directory holds at most one successful night plus whatever a failed run left since;
- one pipeline never runs twice at once (meltano forbids it for one extractor; the DAG's
  ``max_active_runs=1``), so no run is writing into this directory meanwhile. Give every
  pipeline its own directory (meltano.yml's ``prod`` environment does): a shared one could
  hold files of another pipeline's run in progress.

Other files, sub-directories and non-``file://`` roots are left alone (for ``s3://`` use
the bucket's lifecycle rule). Standard library only: it runs with any ``python3``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

TAP_FILE = re.compile(
    r"tap-activities--[a-z0-9_]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"-\d+\.json(\.gz)?"
)
"""The tap's BATCH file names (tap_activities/batch.py), after any ``storage.prefix``."""


def directory_of(root: str) -> Path | None:
    """The local directory of a ``batch_config.storage.root``; None if it is not local."""
    if "://" not in root:
        return Path(root)
    url = urlparse(root)
    if url.scheme != "file":
        return None
    return Path(unquote(url.path))


def prune(directory: Path, started: float) -> list[Path]:
    """Delete the tap's files in ``directory`` modified before ``started``; return them."""
    deleted: list[Path] = []
    if not directory.is_dir():
        return deleted
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.is_symlink() or not TAP_FILE.search(path.name):
            continue
        if path.stat().st_mtime < started:
            path.unlink()
            deleted.append(path)
    return deleted


def main(argv: list[str] | None = None) -> int:
    """Prune one pipeline's batch directory; a root that is not local is left alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--started",
        type=float,
        required=True,
        help="when the successful run began (seconds since the epoch, `date +%%s`)",
    )
    parser.add_argument("root", help="the pipeline's batch_config.storage.root (file:// or a path)")
    args = parser.parse_args(argv)
    if not args.root:
        print("prune_batches: no batch directory (RECORD mode): nothing to delete")
        return 0
    directory = directory_of(args.root)
    if directory is None:
        print(f"prune_batches: {args.root} is not file://: left to the bucket's lifecycle rule")
        return 0
    deleted = prune(directory, args.started)
    print(f"prune_batches: {len(deleted)} loaded file(s) of earlier runs deleted from {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
