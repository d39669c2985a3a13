"""``python -m engine``: the command line. Each subcommand has ``--help``; bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from engine.errors import DataError


def at_least_one(text: str) -> int:
    """An argparse type for counts (repeats, workers, samples): a whole number of 1 or more, else a usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _open(args: argparse.Namespace):
    from engine.data.sources import open_data

    return open_data(Path(args.data), args.nwp_source, args.qpe_source)


def _data_args(p: argparse.ArgumentParser) -> None:
    from engine.data.sources import AUTO, source_names

    p.add_argument("--data", required=True, help="data folder (layouts: `python -m engine sources`)")
    for kind, what in (("nwp", "NWP reader"), ("qpe", "observation reader")):
        choices = [AUTO, *source_names(kind)]
        p.add_argument(f"--{kind}-source", default=AUTO, choices=choices, help=f"{what} (default: detected)")


def _cmd_demo(args: argparse.Namespace) -> int:
    from engine.data.demo import generate

    t0 = time.perf_counter()
    generate(args.out, args.runs, args.seed, args.leads, progress=not args.quiet, workers=args.workers)
    print(f"wrote {args.runs} run(s) x {args.leads + 1} lead times to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    cat = _open(args)
    rows = [{"run": run, "lead_times": cat.lead_times(run)} for run in cat.runs()]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            leads = row["lead_times"]
            print(f"{row['run']}  {len(leads)} lead times ({leads[0]}-{leads[-1]} h)")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from engine.verify.report import format_table, score_folder

    if args.weights and args.source != "model":
        raise DataError("--weights applies to --source model only")
    if args.decision and args.source != "model":
        raise DataError("--decision applies to --source model only (the raw NWP's event is its rain)")
    result = score_folder(
        _open(args),
        args.source,
        args.runs,
        args.lead_times,
        args.thresholds,
        weights=args.weights,
        decision=args.decision or "tuned",
        any_hour_probability=args.any_hour_probability,
    )
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from engine.cache import write_prediction
    from engine.data.atomic import check_writable
    from engine.model.manifest import DEFAULT_WEIGHTS, checked_manifest

    # Wrong weights, an unwritable output, an unknown run or a bad GRIB file are told before torch is imported and
    # the network built.
    weights = args.weights or DEFAULT_WEIGHTS
    checked_manifest(weights)
    check_writable(args.out)
    cat = _open(args)
    t0 = time.perf_counter()
    nwp = cat.load_run(args.run)
    from engine.predict import Predictor

    predictor = Predictor(weights, device=args.device)
    ds = predictor.predict(nwp)
    write_prediction(ds, args.out)
    print(
        f"wrote {args.out}: run {args.run}, {ds.sizes['lead_time']} lead times, {time.perf_counter() - t0:.1f} s "
        f"on {predictor.device}"
    )
    return 0


def _cmd_place(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from engine.heavy_rain import CRITERIA, place_sums
    from engine.places import BOX_KM, box_series, find_place, hours_at, nearest_cell

    cat = _open(args)
    place = find_place(args.place)
    cell = nearest_cell(cat.grid.lat, cat.grid.lon, place)
    if cell is None:
        raise DataError(f"{place.label} lies outside the data's grid", cat.root)
    if args.run not in cat.runs():
        raise DataError(f"unknown run {args.run} (available: {', '.join(cat.runs())})", cat.root)
    leads = [lt for lt in cat.lead_times(args.run) if lt > 0]
    predictor = None
    if not args.no_model:
        from engine.model.manifest import DEFAULT_WEIGHTS
        from engine.prediction import DeferredPredictor

        predictor = DeferredPredictor(args.weights or DEFAULT_WEIGHTS, device=args.device)
    from engine.cache import rain_and_prediction

    whole, out = rain_and_prediction(cat, args.run, predictor)
    ds = whole.sel(lead_time=pd.to_timedelta(leads, unit="h"))
    qpe = cat.load_qpe(args.run, leads).values
    p_event = None
    if out is not None:
        out = out.sel(lead_time=ds["lead_time"])
        p_event = {float(t): out["event_probability"].sel(threshold=t).values for t in out["threshold"].values}
    init = ds["init_time"].values
    table = hours_at(cell, init, leads, ds["tp"].values, qpe, p_event)
    if args.csv:
        print(table.to_csv(index=False), end="")
    else:
        iy, ix = cell
        print(f"{place.label}, grid cell {cat.grid.lat[iy]:.2f}N {cat.grid.lon[ix]:.2f}E, run {args.run} UTC")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
        area = box_series(cell, {"observed QPE": np.where(cat.verify_mask, qpe, np.nan), "raw NWP": ds["tp"].values})
        print(f"\nLargest sums of consecutive hours, in the cell and at any cell of the {BOX_KM} km box ({CRITERIA}):")
        print(place_sums(table, area).to_string(float_format=lambda v: f"{v:.1f}", na_rep="-"))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from engine.bench import bench_imerg_index, bench_inference, bench_verify

    data = Path(args.data) if args.data else None
    if args.what == "verify":
        result = bench_verify(data, repeats=args.repeats)
    elif args.what == "imerg-index":
        result = bench_imerg_index(repeats=args.repeats)
    else:
        if args.weights and args.model != "lite":
            raise DataError("--weights applies to --model lite only (the paper size is timed with random weights)")
        weights = Path(args.weights) if args.weights else None
        result = bench_inference(
            data, device=args.device, model=args.model, repeats=args.repeats, weights=weights, compile=args.compile
        )
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def _cmd_sources(args: argparse.Namespace) -> int:
    from engine.data.sources import SOURCES

    if args.json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "description": s.description} for s in SOURCES]))
    else:
        for s in SOURCES:
            print(f"{s.name:11s} {s.kind:4s} {s.description}")
        print("\n--nwp-source / --qpe-source auto (the default) detects them from a folder's layout")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Korean NWP precipitation post-processor.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the twin-experiment demo archive (GRIB2 NWP + NetCDF QPE)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--runs", type=int, default=6, help="daily 00 UTC runs (default 6)")
    p.add_argument("--seed", type=int, default=7, help="random seed; same seed, same files (default 7)")
    p.add_argument("--leads", type=int, default=48, help="last lead time in hours (default 48)")
    p.add_argument("--workers", type=at_least_one, default=1, help="processes; the files are the same (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("runs", help="list the runs in a data folder and their lead times")
    _data_args(p)
    p.add_argument("--json", action="store_true", help='print [{"run": ..., "lead_times": [...]}, ...]')
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("sources", help="list the data sources the readers understand")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_sources)

    p = sub.add_parser("verify", help="score a forecast source against the QPE (CSI, POD, FAR, bias, ETS, ...)")
    _data_args(p)
    p.add_argument("--source", choices=["nwp", "model"], default="nwp", help="raw NWP rain or the post-processed model")
    p.add_argument("--weights", help="weights file for --source model (default: the shipped weights)")
    p.add_argument("--runs", nargs="+", help="runs YYYYMMDDHH (default: all)")
    p.add_argument("--lead-times", nargs="+", type=int, help="lead times in hours (default: all but 0)")
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.1, 10.0], help="event thresholds, mm/h")
    p.add_argument(
        "--decision",
        choices=["tuned", "argmax"],
        help="--source model: the event where its calibrated P reaches the probability threshold tuned on validation "
        "runs, as the app shows it (tuned, default; 0.1 and 10 mm/h only), or its most likely class (argmax)",
    )
    p.add_argument(
        "--any-hour-probability",
        type=float,
        metavar="P",
        help="--source model: its probability threshold for the event at any hour of a run (default: the one "
        "tuned on validation runs for it, in the weights' manifest; the hourly one covers too little of a run)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: a 'scores' list, one row per threshold and lead (and the aggregate, lead null), and an "
        "'any_hour' list, one row per threshold",
    )
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("predict", help="post-process one run with the shipped model and write CF NetCDF")
    _data_args(p)
    p.add_argument("--run", required=True, help="run YYYYMMDDHH")
    p.add_argument("--out", required=True, help="output NetCDF file (written atomically)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA if present, else CPU)")
    p.add_argument("--weights", help="weights file (default: engine/weights/lite.safetensors)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "place",
        help="one city's (or point's) hours of a run: raw NWP and observed rain (mm/h), the model's calibrated event "
        "probabilities, valid times in UTC and KST",
    )
    _data_args(p)
    p.add_argument("--run", required=True, help="run YYYYMMDDHH")
    p.add_argument(
        "--place",
        required=True,
        help="city, e.g. Seoul, Busan, Jeju (the KMA ASOS station's grid cell), or a point 'lat,lon' in degrees N "
        "and E, e.g. 35.18,129.07",
    )
    p.add_argument("--csv", action="store_true", help="print CSV (the app's export)")
    p.add_argument("--no-model", action="store_true", help="raw NWP and QPE only, without running the model")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA if present, else CPU)")
    p.add_argument("--weights", help="weights file (default: engine/weights/lite.safetensors)")
    p.set_defaults(func=_cmd_place)

    p = sub.add_parser("bench", help="time inference of a full run by stage, or the verification kernels")
    p.add_argument(
        "--what",
        choices=["inference", "verify", "imerg-index"],
        default="inference",
        help="what to time (imerg-index: listing a season of IMERG files, as the app does on every look)",
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: CUDA if present)")
    p.add_argument(
        "--model",
        choices=["lite", "paper"],
        default="lite",
        help="lite: the shipped weights; paper: the paper-size network (random weights, for speed only)",
    )
    p.add_argument(
        "--weights", help="weights file to time with --model lite (default: engine/weights/lite.safetensors)"
    )
    p.add_argument("--data", help="data folder (default: a 1-run demo archive in a temporary folder)")
    p.add_argument("--repeats", type=at_least_one, default=5, help="timed repetitions after one warm-up (default 5)")
    p.add_argument(
        "--compile",
        action="store_true",
        help="time the network under torch.compile (inductor); reports the compile time and the largest "
        "probability difference from the eager network",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench)
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
