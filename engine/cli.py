"""``python -m engine``: the command line. Each subcommand has ``--help``; bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from engine.errors import DataError


def _cmd_demo(args: argparse.Namespace) -> int:
    from engine.data.demo import generate

    t0 = time.perf_counter()
    generate(args.out, runs=args.runs, seed=args.seed, leads=args.leads, progress=not args.quiet)
    print(f"wrote {args.runs} run(s) x {args.leads + 1} lead times to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from engine.data.catalog import Catalog

    cat = Catalog(Path(args.data))
    rows = [{"run": run, "lead_times": cat.lead_times(run)} for run in cat.runs()]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            leads = row["lead_times"]
            print(f"{row['run']}  {len(leads)} lead times ({leads[0]}-{leads[-1]} h)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Korean NWP precipitation post-processor.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the twin-experiment demo archive (GRIB2 NWP + NetCDF QPE)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--runs", type=int, default=6, help="daily 00 UTC runs (default 6)")
    p.add_argument("--seed", type=int, default=7, help="random seed; same seed, same files (default 7)")
    p.add_argument("--leads", type=int, default=48, help="last lead time in hours (default 48)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("runs", help="list the runs in a data folder and their lead times")
    p.add_argument("--data", required=True, help="data folder (see engine/data/catalog.py for the layout)")
    p.add_argument("--json", action="store_true", help='print [{"run": ..., "lead_times": [...]}, ...]')
    p.set_defaults(func=_cmd_runs)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
