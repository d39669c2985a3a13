"""Inference at the training context: the validation CSI of whole-grid inference against crop-sized tiles.

Networks train on ``crop``-px crops and are evaluated on the whole grid, so their pyramid pooling and deepest stage
see more context at inference than they learnt from. ``python -m training.context --config FILE --weights A B ...``
scores each network on the config's validation runs both ways: once on the whole grid, once in placed tiles of the
config's crop size with 32 px of blended overlap (``engine.predict.Predictor``, ``engine.placement``), each at its
own validation-tuned probability threshold (``training.evaluate.tune_decisions``). The question and its decision
rule are in ``results/experiments.md`` ("Inference at the training context").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.weights import load_model
from engine.predict import Predictor
from training.config import load_config
from training.evaluate import tune_decisions
from training.store import Store

OVERLAP = 32


def context_scores(config: Path, weights: list[Path], progress: bool = True) -> list[dict]:
    """One row per network and inference: ``weights``, ``tile`` (None: the whole grid) and validation CSI."""
    cfg = load_config(config)
    store = Store(cfg.data.store)
    if not store.runs("val"):
        raise DataError("the store holds no validation runs to score on (its config's split.val is 0)", config)
    mask = Catalog(store.meta["archive"]).grid.qpe_mask
    rows = []
    for path in tqdm(weights, desc="networks", disable=not progress):
        model, manifest = load_model(path)  # once per network: the sha256 check reads the whole file
        for tile in (None, cfg.crop):
            predictor = Predictor.from_model(model, manifest, device="cpu", tile=tile, overlap=OVERLAP)
            _, csi = tune_decisions(model, store, mask, "cpu", predictor.probabilities)
            rows.append({"weights": str(path), "tile": tile, **{f"csi_{thr:g}": csi[thr] for thr in sorted(csi)}})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.context", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="a training config (YAML): its store and crop")
    parser.add_argument("--weights", required=True, nargs="+", type=Path, help="networks (.safetensors)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        rows = context_scores(args.config, args.weights, progress=not args.quiet)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("validation CSI at the tuned threshold, 0.1 / 10 mm/h")
    print("| network | whole grid | crop-sized tiles | tiles minus whole grid |")
    print("| --- | --- | --- | --- |")
    for whole, tiled in zip(rows[::2], rows[1::2], strict=True):
        diff = " / ".join(f"{tiled[k] - whole[k]:+.3f}" for k in ("csi_0.1", "csi_10"))
        cells = [f"{r['csi_0.1']:.3f} / {r['csi_10']:.3f}" for r in (whole, tiled)]
        print(f"| {whole['weights']} | {cells[0]} | {cells[1]} | {diff} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
