"""``python -m training {prepare,pretrain,finetune,evaluate,leadtime,probe,ceiling,reproduce,ship,bench} --config
FILE`` and ``python -m training compare FILE:METHOD FILE:METHOD``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from engine.cli import at_least_one
from engine.data.atomic import check_writable
from engine.errors import DataError
from engine.machine import machine_differences
from engine.model.manifest import checked_manifest, read_manifest, shipped_method
from engine.model.weights import load_model, save_weights, update_manifest
from training.code_version import code_clause
from training.config import HELDOUT, TrainConfig, load_config
from training.fingerprint import is_listing, listing_fingerprint, short
from training.methods import parse_method

EXPECTED = (
    "for lite.yaml on a 2-core CPU: the shipped weights alone (--method pretrained_continuous_grid2) about 25 min "
    "(16.2 min measured alone, 21.8 min with a test run beside it: pre-training 2.8-5.2 min, fine-tuning on crops "
    "3.2-3.7 min, then on the whole grid 4.4-5.0 min, archive, store, evaluation and ship with its probability "
    "calibration and any-hour threshold ~9-12 min); every "
    "method and "
    "ablation of the config about 12 h (63 fine-tunings of 2-27 min, 14 pre-trainings of 2-20 min, evaluation "
    "~180 min); "
    "lite_p16.yaml about 3.5 h; lite_unlabelled.yaml about 1 h more (96 extra runs ~11 min, pre-training ~16 min, "
    "5 fine-tunings, evaluation ~15 min); lite_runs96.yaml about 75 min (96 runs, 3 seeds of U-Net, full method and "
    "scratch); lite_runs96_skip64.yaml about 40 min more (3 fine-tunings of 12 min, evaluation); "
    "lite_skip64.yaml about 35 min (48 runs: 3 pre-trainings of 2 min, 3 fine-tunings of 6 min, evaluation 8 min); "
    "lite_heldout96.yaml about 5.5 h (3 U-Nets, full methods and scratch, a 24-epoch pre-training, 27 label-share "
    "fine-tunings, 9 fine-tunings of 20 epochs (4.5-10 min), each network evaluated on 96 held-out runs in ~4.4 min); "
    "lite_unlabelled_heldout96.yaml about 35 min (96 extra runs and their store ~2 min, 2 pre-trainings of ~8 min, "
    "2 fine-tunings, evaluation on 96 held-out runs ~10 min); lite_season_heldout96.yaml about 42 min (the store of "
    "48 held-out runs ~0.5 min, 3 pre-trainings of ~5 min, 3 fine-tunings of ~3 min, evaluation ~13 min)"
)


def _methods(cfg: TrainConfig, names: Sequence[str] | None):
    names = list(names) if names else [*cfg.methods, *cfg.ablations]
    try:
        return [parse_method(n, cfg.finetune.loss, cfg.pretrain.mask_ratio) for n in names]
    except ValueError as exc:  # a mistyped --method: say which, without a traceback
        raise DataError(f"{exc} (methods are named as in training/README.md, e.g. pretrained_10pct_draw1)") from exc


def cmd_prepare(cfg: TrainConfig, args) -> None:
    from training.store import prepare

    print(f"store ready: {prepare(cfg, progress=not args.quiet)}")


def _current_store(cfg: TrainConfig, args) -> None:
    """Refuse to train on a store its archive has changed under (``Store.require_current``)."""
    from training.store import Store

    if Path(cfg.data.store, "store.json").exists():
        Store(cfg.data.store).require_current(progress=not args.quiet)


def cmd_pretrain(cfg: TrainConfig, args) -> None:
    from training.pretrain import pretrain

    _current_store(cfg, args)
    out = pretrain(cfg, args.mask_ratio, resume=not args.no_resume, progress=not args.quiet, epochs=args.epochs)
    print(f"backbone: {out}")


def cmd_finetune(cfg: TrainConfig, args) -> None:
    _current_store(cfg, args)
    _finetune_methods(cfg, args)


def _finetune_methods(cfg: TrainConfig, args) -> None:
    from training.finetune import finetune

    for method in _methods(cfg, args.method):
        print(f"{method.name}: {finetune(cfg, method, resume=not args.no_resume, progress=not args.quiet)}")


def _trained_weights(cfg: TrainConfig, names: Sequence[str] | None) -> dict[str, Path]:
    """Method name -> its weights file, for the methods named (default: the config's); all must be trained."""
    from training.finetune import weights_path

    weights = {m.name: weights_path(cfg, m) for m in _methods(cfg, names)}
    missing = [n for n, p in weights.items() if not p.exists()]
    if missing:
        raise DataError(f"no trained weights for {missing}: run `python -m training finetune` first")
    return weights


def cmd_evaluate(cfg: TrainConfig, args) -> None:
    from training.evaluate import evaluate

    weights = _trained_weights(cfg, args.method)
    # With --method, the config's other methods keep their earlier results; anything else is dropped.
    merge = [*cfg.methods, *cfg.ablations] if args.method else []
    evaluate(cfg, list(weights), weights, progress=not args.quiet, merge=merge)
    print(f"wrote {cfg.results_dir}/evaluation.json and README.md")


def cmd_leadtime(cfg: TrainConfig, args) -> None:
    from training.leadtime import leadtime

    weights = _trained_weights(cfg, args.method)
    leadtime(cfg, list(weights), weights, args.dataset, args.hours, progress=not args.quiet)
    print(f"wrote {cfg.results_dir}/leadtime.json and leadtime.md")


def ship(cfg: TrainConfig) -> None:
    """Copy the chosen method's weights into ``engine/weights/<name>`` with the headline metrics."""
    from training.calibration import fit_calibration
    from training.finetune import weights_path
    from training.report import headline

    src = weights_path(cfg, parse_method(cfg.ship, cfg.finetune.loss, cfg.pretrain.mask_ratio))
    model, manifest = load_model(src)
    evaluation = json.loads((Path(cfg.results_dir) / "evaluation.json").read_text())
    rows = evaluation["rows"]
    manifest["metrics"] = {
        "test": headline(rows, cfg.ship),
        "raw_nwp_test": headline(rows, "raw_nwp"),
        HELDOUT: headline(rows, cfg.ship, HELDOUT),
        f"raw_nwp_{HELDOUT}": headline(rows, "raw_nwp", HELDOUT),
    }
    manifest["decision_thresholds"] = evaluation["decision_thresholds"][cfg.ship]
    knots, measured = fit_calibration(cfg, model, manifest)
    if knots is None:
        print("no validation runs to fit the probability calibration on: the shipped probabilities stay raw")
        manifest.pop("calibration", None)
    else:
        manifest["calibration"], manifest["metrics"]["calibration"] = knots, measured
        print(calibration_report(measured))
    manifest["name"] = cfg.name
    manifest["shipped_method"] = cfg.ship  # the evaluation's name for it; training_config is the one it trained under
    manifest.pop("history", None)
    dst = Path(cfg.weights_dir) / f"{cfg.name}.safetensors"
    previous = read_manifest(dst) if dst.exists() and dst.with_suffix(".json").exists() else None
    new = save_weights(dst, model, {k: v for k, v in manifest.items() if k not in ("file", "sha256")})
    print(f"shipped {src.name} as {dst} (sha256 {new['sha256'][:12]}...)")
    if previous is not None:
        old_fp, archive = previous.get("data_fingerprint"), Path(cfg.data.archive)
        # The shipped weights may record the older listing fingerprint: compare the archive in the same terms.
        listing = listing_fingerprint(archive) if old_fp and is_listing(old_fp) and archive.is_dir() else None
        print(reproduction_report(previous, new, listing))
    if knots is None:  # no validation runs
        print("no validation runs to tune the any-hour threshold on: the run's event stays at the hourly one")
    else:
        tune_any_hour(cfg, dst)


def calibration_report(report: dict[str, dict]) -> str:
    """What calibration (fitted on validation runs) does to the probabilities where it was not fitted."""
    lines = ["probability calibration (isotonic, fitted on the validation runs):"]
    for dataset, events in report.items():
        for event, r in events.items():
            lines.append(
                f"  {dataset}, P(>= {event} mm/h): observed {r['observed_frequency']:.4f}, mean forecast "
                f"{r['mean_probability_raw']:.4f} raw -> {r['mean_probability_calibrated']:.4f} calibrated; "
                f"reliability term {r['reliability_raw']:.5f} -> {r['reliability_calibrated']:.5f}"
            )
    return "\n".join(lines)


def reproduction_report(previous: dict, new: dict, archive_listing: str | None = None) -> str:
    """Whether newly shipped weights are bit-identical to the file they replaced and, if not, whether the config
    ships another method (recipe) or the training data (archive fingerprint) differed, with the headline CSI at
    10 mm/h of both. ``archive_listing``: the training archive's older listing fingerprint, to compare with old
    weights that record one."""
    if previous["sha256"] == new["sha256"]:
        return f"reproduced: bit-identical to the weights it replaced (sha256 {new['sha256'][:12]}...)"
    fp_old, fp_new = previous.get("data_fingerprint"), new.get("data_fingerprint")
    if fp_old and fp_new and is_listing(fp_old) and not is_listing(fp_new):
        fp_new = archive_listing
    recipes = [shipped_method(m) for m in (previous, new)]
    if None not in recipes and recipes[0] != recipes[1]:
        why = f"another recipe: the config ships {recipes[1]}, the old weights were {recipes[0]}"
    elif not fp_old or not fp_new:
        why = "cannot tell whether the training data differed (no fingerprint of the same kind for both)"
    elif fp_old != fp_new:
        why = (
            f"the training archive differs from the one the old weights saw (fingerprint {short(fp_old)}... -> "
            f"{short(fp_new)}...)"
        )
    elif is_listing(fp_old):
        same = "a file changed at the same size, or training is not deterministic here"
        why = (
            "the archive's file names and sizes match the old weights' (all their older fingerprint covers); "
            + machine_clause(previous, new, same)
        )
    else:
        same = "training is not deterministic here (a defect: please report it)"
        why = "the training data are the same byte for byte; " + machine_clause(previous, new, same)
    scores = []
    for dataset in ("test", HELDOUT):
        old, now = (m.get("metrics", {}).get(dataset, {}).get("csi_10") for m in (previous, new))
        if old is not None and now is not None:
            scores.append(f"{dataset} CSI at 10 mm/h {old:.3f} -> {now:.3f}")
    sha = f"sha256 {previous['sha256'][:12]}... -> {new['sha256'][:12]}..."
    return f"not bit-identical to the weights it replaced ({sha}): {why}" + (f"; {', '.join(scores)}" if scores else "")


def machine_clause(previous: dict, new: dict, if_same: str) -> str:
    """Why same-data weights came out different, from the machines both manifests record (``engine.machine``) and
    the code they record (``training.code_version``); ``if_same``: what is left when both are the same."""
    differences = machine_differences(previous.get("environment"), new.get("environment"))
    code = code_clause(previous, new)
    if differences is None:
        reasons = [
            "the old weights do not record the machine they were trained on, and a CPU with other SIMD kernels "
            "(AVX2 against AVX-512) trains the same data to other weights"
        ]
    elif differences:
        reasons = [f"trained on another machine ({'; '.join(differences)}), whose kernels round differently"]
    elif code:
        return f"the machine is recorded as the same, but {code}"
    else:
        return f"the machine is recorded as the same, so {if_same}"
    return "; ".join(reasons + ([f"and {code}"] if code else []))


def cmd_reproduce(cfg: TrainConfig, args) -> None:
    print(f"reproduce {cfg.name}: expected {EXPECTED}")
    t0 = time.perf_counter()
    cmd_prepare(cfg, args)
    _finetune_methods(cfg, args)  # the store is the one prepare just checked against the archive
    cmd_evaluate(cfg, args)
    ship(cfg)
    print(f"reproduced in {(time.perf_counter() - t0) / 60:.1f} min")


def cmd_ship(cfg: TrainConfig, args) -> None:
    ship(cfg)


def cmd_any_hour(cfg: TrainConfig, args) -> None:
    tune_any_hour(cfg, Path(args.weights) if args.weights else None, progress=not args.quiet)


def tune_any_hour(cfg: TrainConfig, weights: Path | None = None, progress: bool = True) -> None:
    """Tune the shipped (or ``weights``') any-hour probability on the validation runs, score it, write
    ``any_hour.json`` / ``.md`` and add both to the weights' manifest (the weights themselves unchanged)."""
    from training.any_hour import render, score, ship_any_hour, write

    weights = weights or Path(cfg.weights_dir) / f"{cfg.name}.safetensors"
    result = score(cfg, weights, progress=progress)
    path = write(cfg, result)
    update_manifest(weights, ship_any_hour(checked_manifest(weights), result))
    print(render(result))
    print(f"wrote {path} and the any-hour probability into {weights.with_suffix('.json')}")


def cmd_probabilities(cfg: TrainConfig, args) -> None:
    from training.calibration import (
        collect_histograms,
        ensemble_gains,
        histograms_path,
        read_histograms,
        score_probabilities,
        seed_groups,
        write_histograms,
        write_probabilities,
    )

    stem = "probabilities_ensemble" if args.ensemble else "probabilities"
    saved = histograms_path(cfg, stem)
    if args.rescore:
        if not saved.exists():
            raise DataError("no saved histograms: run `python -m training probabilities` without --rescore", saved)
        per_run = read_histograms(saved)
        if args.method:
            wanted = _trained_weights(cfg, args.method)
            per_run = {n: per_run[n] for n in (seed_groups(wanted) if args.ensemble else wanted) if n in per_run}
        if not per_run:
            raise DataError(f"none of {args.method} in the saved histograms: run without --rescore", saved)
    else:
        torch.set_num_threads(cfg.threads)
        weights = _trained_weights(cfg, args.method)
        groups = seed_groups(weights) if args.ensemble else None
        per_run = collect_histograms(cfg, weights, progress=not args.quiet, groups=groups)
        if args.method and saved.exists():  # the other networks' saved histograms stay, and are scored again
            per_run = {**read_histograms(saved), **per_run}
        write_histograms(saved, per_run)
    result = score_probabilities(per_run, cfg.ship)
    singles = histograms_path(cfg)
    if args.ensemble:  # against the members scored alone by a plain `probabilities` run, where there was one
        result["ensemble_gains"] = (
            ensemble_gains(per_run, read_histograms(singles), cfg.ship) if singles.exists() else []
        )
    path = write_probabilities(cfg, result, stem)
    print(f"wrote {path}, {stem}.json" + ("" if args.rescore else f" and {saved.name}"))


def cmd_probe(cfg: TrainConfig, args) -> None:
    from training.probe import probe

    methods = _methods(cfg, args.method or [cfg.ship])
    tables = {m.name: probe(cfg, m, args.samples) for m in methods}
    print(
        f"share of each masked field's variance rebuilt on {args.samples} validation samples "
        "(own: the method's masking; tube: whole places masked in every variable group)"
    )
    print("| variable | " + " | ".join(f"{n} own | {n} tube" for n in tables) + " |")
    print("| --- |" + " --- | --- |" * len(tables))
    for i, row in enumerate(next(iter(tables.values()))):
        cells = " | ".join(f"{t[i]['own']:.3f} | {t[i]['tube']:.3f}" for t in tables.values())
        print(f"| {row['variable']} | {cells} |")


def cmd_ceiling(cfg: TrainConfig, args) -> None:
    from training.ceiling import ceiling

    ceiling(cfg, progress=not args.quiet)
    print(f"wrote {Path(cfg.results_dir) / 'ceiling.md'}:")
    print((Path(cfg.results_dir) / "ceiling.md").read_text())


def cmd_bench(cfg: TrainConfig, args) -> None:
    from training.bench import bench_training

    result = bench_training(cfg, args.device, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{cfg.name} ({cfg.model} model) on {result['device']}:")
    for r in result["stages"]:
        share = f", {100 * r['share_of_bf16_peak']:.1f} % of bf16 peak" if r.get("share_of_bf16_peak") else ""
        print(
            f"  {r['stage']}: batch {r['batch']} at {r['crop']} px, {r['step_ms']} ms/step, {r['samples_per_s']} "
            f"samples/s, {r['gflops_per_sample']} GFLOP/sample, {r['achieved_tflops']} TFLOP/s{share}"
        )


def cmd_compare(args) -> None:
    from training.compare import compare_results, parse_spec
    from training.provenance import SAME, UNKNOWN

    rows = compare_results(parse_spec(args.a), parse_spec(args.b), args.dataset, args.pool)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"CSI of A minus B on {rows[0]['dataset']} ({rows[0]['runs']} runs, paired bootstrap over runs):")
    print(f"  A = {rows[0]['a']}\n  B = {rows[0]['b']}")
    if rows[0]["seen_left_out"]:
        print(f"  {rows[0]['seen_left_out']} runs whose NWP the pre-training read are left out")
    archives = rows[0]["archives"]
    if archives == SAME:
        print("  both trained on the same archive")
    elif archives == UNKNOWN:
        print(
            "  cannot tell whether both learnt from the same archive (not recorded, or fingerprints of two kinds): "
            "check by hand"
        )
    else:
        print(
            f"  warning: trained on different archives ({archives}): the difference includes the archive's, "
            "about one training seed's luck"
        )
    for r in rows:
        print(
            f"  {r['threshold']:g} mm/h: {r['difference']:+.4f} (95 % interval {r['low']:+.4f} to {r['high']:+.4f}), "
            f"P(A better) {r['p_better']:.3f}"
        )
    if args.pool:  # the repeats as the sample: would other seeds keep the order?
        how = "a t-test paired over draws" if rows[0]["repeats"]["test"] == "paired" else "Welch's t-test"
        print(f"  each {args.pool} alone (CSI over the same runs; {how}, the {args.pool}s as the sample):")
        for r in rows:
            rep = r["repeats"]
            test = f", t {rep['t']:.2f}, p {rep['p']:.3f}" if rep["t"] is not None else ""
            print(
                f"    {r['threshold']:g} mm/h: A {', '.join(f'{v:.3f}' for v in r['networks_a'].values())}; "
                f"B {', '.join(f'{v:.3f}' for v in r['networks_b'].values())}; means {rep['difference']:+.4f}{test}"
            )


COMMANDS = {
    "prepare": cmd_prepare,
    "pretrain": cmd_pretrain,
    "finetune": cmd_finetune,
    "evaluate": cmd_evaluate,
    "leadtime": cmd_leadtime,
    "probe": cmd_probe,
    "ceiling": cmd_ceiling,
    "reproduce": cmd_reproduce,
    "ship": cmd_ship,
    "any-hour": cmd_any_hour,
    "probabilities": cmd_probabilities,
    "bench": cmd_bench,
}
HELP = {
    "prepare": "generate/read the training archive and build the memory-mapped store with normalisation statistics",
    "pretrain": "masked 3-D patch pre-training of embedding + encoder",
    "finetune": "train the segmentation methods (all of the config's methods and ablations, or --method)",
    "evaluate": "score every trained method and the raw NWP on the test runs and a held-out-seed archive",
    "leadtime": "CSI per block of lead times and the evaluation's paired tests per block (after evaluate)",
    "probe": "what pre-training learned per variable: the share of masked fields' variance its network rebuilds",
    "ceiling": "how much skill the demo twin leaves to win: oracles that know parts of nature, beside the networks",
    "reproduce": "prepare, pretrain, finetune, evaluate and ship: the chain that made engine/weights/",
    "ship": "copy the config's chosen method into engine/weights/ with its evaluation metrics",
    "any-hour": "tune the shipped weights' probability for rain at some hour of a run on the validation runs, score "
    "it on the test and held-out runs and add it to their manifest (ship does this too)",
    "probabilities": "each method as a calibrated probability forecast (Brier skill, ROC area) and what its decision "
    "threshold costs in CSI against hindsight (after evaluate)",
    "bench": "time the config's pre-training and fine-tuning steps: samples/s, TFLOP/s, share of the GPU's peak",
}
# The folders each command writes (config attributes): refused at once where they cannot be written, not after the
# minutes or hours of work whose results would have nowhere to go.
WRITES = {
    "pretrain": ("out_dir",),
    "finetune": ("out_dir",),
    "evaluate": ("results_dir",),
    "leadtime": ("results_dir",),
    "probabilities": ("results_dir",),
    "ceiling": ("results_dir",),
    "ship": ("weights_dir",),
    "any-hour": ("results_dir", "weights_dir"),
    "reproduce": ("out_dir", "results_dir", "weights_dir"),
}
COMPARE_HELP = (
    "paired bootstrap of CSI between a method of one evaluation.json and a method of another (e.g. trained under "
    "another config), on the runs both scored, less the held-out runs either config's pre-training read"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train the rain post-processor.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in HELP.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", required=True, help="YAML file, e.g. training/configs/lite.yaml")
        if name not in ("ship", "bench", "probe"):
            p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name in ("pretrain", "finetune", "reproduce"):  # the commands that checkpoint and resume
            p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints and start over")
        if name in ("finetune", "evaluate", "leadtime", "reproduce"):
            p.add_argument(
                "--method", nargs="+", help="only these methods (default: the config's methods and ablations)"
            )
        if name == "probabilities":
            p.add_argument(
                "--method",
                nargs="+",
                help="only these methods (default: the config's methods and ablations); the saved histograms of "
                "the others are kept and every method is scored again",
            )
        if name == "any-hour":
            p.add_argument(
                "--weights", help="weights trained under this config (default: the shipped engine/weights/<name>)"
            )
        if name == "probe":
            p.add_argument("--method", nargs="+", help="pre-trained methods to probe (default: the config's ship)")
        if name == "bench":
            p.add_argument("--device", help="cpu or cuda (default: CUDA if present)")
            p.add_argument(
                "--repeats", type=at_least_one, default=10, help="timed steps after two warm-up steps (default 10)"
            )
            p.add_argument("--json", action="store_true", help="print JSON")
        if name == "leadtime":
            p.add_argument("--dataset", default=HELDOUT, choices=[HELDOUT, "test"], help=f"default {HELDOUT}")
            p.add_argument(
                "--hours", type=at_least_one, default=6, help="lead hours per block (default 6: 1-6 h, 7-12 h, ...)"
            )
        if name == "probabilities":
            p.add_argument(
                "--rescore",
                action="store_true",
                help="score again the histograms the last run saved (probabilities_histograms.npz), without networks",
            )
            p.add_argument(
                "--ensemble",
                action="store_true",
                help="score each method's seeds (X, X_seedN) as one ensemble of averaged probabilities, and what it "
                "adds to its members; writes probabilities_ensemble.*",
            )
        if name == "probe":
            p.add_argument(
                "--samples", type=at_least_one, default=24, help="validation samples, spread over the runs (24)"
            )
        if name == "pretrain":
            p.add_argument("--mask-ratio", type=float, help="override the config's masking ratio")
            p.add_argument("--epochs", type=at_least_one, help="override the config's epochs (methods name it _ptNN)")
    p = sub.add_parser("compare", help=COMPARE_HELP, description=COMPARE_HELP)
    p.add_argument("a", metavar="FILE:METHOD", help="A, e.g. training/results/runs96/evaluation.json:unet")
    p.add_argument("b", metavar="FILE:METHOD", help="B, e.g. training/results/evaluation.json:unet")
    p.add_argument(
        "--dataset", default=HELDOUT, choices=[HELDOUT, "test"], help=f"default {HELDOUT} (shared by configs)"
    )
    pool = p.add_mutually_exclusive_group()
    pool.add_argument(
        "--pool-seeds",
        dest="pool",
        action="store_const",
        const="seed",
        help="pool each method with its _seedN twins in its file (other training seeds)",
    )
    pool.add_argument(
        "--pool-draws",
        dest="pool",
        action="store_const",
        const="draw",
        help="pool each method with its _drawN twins in its file (other choices of the labelled runs)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            cmd_compare(args)
            return 0
        cfg = load_config(args.config)
        for folder in WRITES.get(args.command, ()):
            check_writable(Path(getattr(cfg, folder)) / "any")
        torch.set_num_threads(cfg.threads)
        COMMANDS[args.command](cfg, args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    return 0
