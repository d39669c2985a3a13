"""Two architectures averaged: the U-Net and the full method as one forecast, against two seeds of either.

``python -m training.mixed_ensemble --config FILE`` (after ``finetune`` of ``unet``, ``unet_seed1``,
``pretrained_continuous``, ``pretrained_continuous_seed1`` and one ``evaluate``, which generates the held-out
archive). Each network alone and each pair averaged (``SeedEnsemble``) is decided at its validation-tuned threshold,
as ``evaluate`` decides; the mixed pairs (seed 0 with seed 0, seed 1 with seed 1) are pooled against the two-seed
ensembles and the single networks with the paired run bootstrap (``training.thresholds.paired_bootstrap_csi``).
Writes ``mixed_ensemble.json`` beside the config's ``evaluation.json``; the question and its decision rule are in
``results/experiments.md`` ("A mixed ensemble").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.data.atomic import atomic_write_bytes
from engine.errors import DataError
from engine.verify.case import MODEL_THRESHOLDS
from training.calibration import collect_histograms
from training.config import load_config
from training.finetune import weights_path
from training.methods import parse_method
from training.thresholds import paired_bootstrap_csi, threshold_costs

NETWORKS = {"U": "unet", "U1": "unet_seed1", "F": "pretrained_continuous", "F1": "pretrained_continuous_seed1"}
GROUPS = {
    **{k: [k] for k in NETWORKS},
    "UU": ["U", "U1"],
    "FF": ["F", "F1"],
    "UF": ["U", "F"],
    "U1F1": ["U1", "F1"],
}
MIXED = ["UF", "U1F1"]
# The mixed pairs (pooled) against the same-cost ensembles and the single networks; and, as everywhere, the full
# method against the U-Net, seeds pooled.
PAIRS = [(MIXED, ["UU"]), (MIXED, ["FF"]), (MIXED, ["U", "U1"]), (MIXED, ["F", "F1"]), (["F", "F1"], ["U", "U1"])]


def mixed_ensemble(config: Path, progress: bool = True) -> dict:
    cfg = load_config(config)
    loss, mask = cfg.finetune.loss, cfg.pretrain.mask_ratio
    weights = {k: weights_path(cfg, parse_method(name, loss, mask)) for k, name in NETWORKS.items()}
    missing = [NETWORKS[k] for k, p in weights.items() if not p.exists()]
    if missing:
        raise DataError(f"not trained yet: {', '.join(missing)} (run `python -m training finetune`)", config)
    hists = collect_histograms(cfg, weights, progress, groups=GROUPS)
    costs = {
        g: {f"{t:g}": threshold_costs({d: h[d][t] for d in h}) for t in MODEL_THRESHOLDS} for g, h in hists.items()
    }
    bins = hists["U"]["val"][10.0].shape[-1]
    pairs = []
    for a, b in PAIRS:
        for dataset in (d for d in hists["U"] if d != "val"):
            for t in MODEL_THRESHOLDS:
                sides = [[hists[g][dataset][t] for g in side] for side in (a, b)]
                edges = [[round(costs[g][f"{t:g}"]["threshold"] * bins) for g in side] for side in (a, b)]
                pairs.append(
                    {
                        "a": "+".join(a),
                        "b": "+".join(b),
                        "dataset": dataset,
                        "threshold": t,
                        "tuned": paired_bootstrap_csi(*sides, *edges),
                        "hindsight": paired_bootstrap_csi(*sides, None, None),
                    }
                )
    result = {"networks": NETWORKS, "groups": GROUPS, "costs": costs, "pairs": pairs}
    out = Path(cfg.results_dir) / "mixed_ensemble.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(result, indent=1, default=float) + "\n").encode())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.mixed_ensemble", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="a training config (YAML)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        result = mixed_ensemble(args.config, progress=not args.quiet)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in result["pairs"]:
        t = p["tuned"]
        print(
            f"{p['a']:>7s} - {p['b']:6s} {p['dataset']:18s} {p['threshold']:>4g} mm/h: {t['difference']:+.3f} "
            f"({t['low']:+.3f} to {t['high']:+.3f}); in hindsight {p['hindsight']['difference']:+.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
