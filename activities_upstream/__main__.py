"""Run the local upstream on its own: ``python -m activities_upstream --help``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path

from activities_upstream import LocalUpstream, UpstreamConfig

DESCRIPTION = """\
Serve a local stand-in for the People.ai API, the ChartMogul API and the file host of
ChartMogul's exports, on 127.0.0.1, until Ctrl-C or SIGTERM. Its data is made up and the
same for the same --seed and dates.

Once serving, it prints one JSON line on stdout with the three URLs and the credentials
the APIs accept (peopleai_url, chartmogul_url, files_url, peopleai_client_id,
peopleai_client_secret, chartmogul_api_key): give those to the tap as its settings. The
ports are random free ports unless given with --peopleai-port, --chartmogul-port and
--files-port (`make upstream` gives the ports of meltano.yml's `local` environment).
"""


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print URLs and credentials as one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m activities_upstream",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the made-up data (42)")
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=dt.date(2024, 1, 1),
        help="first day with activities, YYYY-MM-DD (2024-01-01)",
    )
    parser.add_argument(
        "--end",
        type=dt.date.fromisoformat,
        default=dt.date(2024, 3, 31),
        help="last day with activities, YYYY-MM-DD (2024-03-31)",
    )
    parser.add_argument(
        "--per-day", type=int, default=5, help="People.ai activities per type and day"
    )
    parser.add_argument(
        "--chartmogul-per-day", type=int, default=3, help="ChartMogul rows per type and day"
    )
    parser.add_argument(
        "--job-delay", type=float, default=1.0, help="seconds a job runs (and half that queued)"
    )
    parser.add_argument(
        "--fragment-records",
        type=int,
        default=20000,
        help="People.ai records per export fragment (20000)",
    )
    for name, what in (
        ("peopleai", "the People.ai API"),
        ("chartmogul", "the ChartMogul API"),
        ("files", "the file host"),
    ):
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=0,
            help=f"port of {what} (default: a random free port)",
        )
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="also write the JSON line of URLs and credentials to this file",
    )
    args = parser.parse_args(argv)
    config = UpstreamConfig(
        seed=args.seed,
        start=args.start,
        end=args.end,
        peopleai_per_day=args.per_day,
        chartmogul_per_day=args.chartmogul_per_day,
        queue_seconds=args.job_delay / 2,
        run_seconds=args.job_delay,
        fragment_records=args.fragment_records,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    upstream = LocalUpstream(
        config,
        peopleai_port=args.peopleai_port,
        chartmogul_port=args.chartmogul_port,
        files_port=args.files_port,
    )
    with upstream:
        line = json.dumps(upstream.describe())
        if args.ready_file:
            tmp = args.ready_file.with_suffix(".tmp")
            tmp.write_text(line + "\n")
            tmp.replace(args.ready_file)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        stop.wait()


if __name__ == "__main__":
    main()
