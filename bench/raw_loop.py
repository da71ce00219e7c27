"""The floor: parse JSON lines with orjson and write Singer RECORD lines, nothing else.

python bench/raw_loop.py records.jsonl > /dev/null
"""

from __future__ import annotations

import sys

import orjson


def main(path: str) -> None:
    """Copy every line of ``path`` to stdout as a RECORD message."""
    out = sys.stdout.buffer
    prefix = b'{"type":"RECORD","stream":"peopleai_email","record":'
    with open(path, "rb") as lines:
        for line in lines:
            out.write(prefix + orjson.dumps(orjson.loads(line)) + b"}\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
