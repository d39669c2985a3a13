"""The shipped network's probability calibration: fitted on the validation runs, measured where it was not fitted.

``engine.calibration`` holds the formula and applies it; this module feeds it the network's probabilities on the
training store's validation runs (fit) and on its test runs and the held-out archive (measure). The decision
thresholds and every score in ``evaluation.json`` stay on the raw probabilities; calibration changes what the
probabilities say, not which pixels a tuned decision marks.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from engine.calibration import calibrate, fit_isotonic, probability_histogram, reliability_term
from engine.data.catalog import Catalog
from engine.normalise import NormStats
from engine.verify.case import MODEL_THRESHOLDS, event_probability
from training.config import HELDOUT, TrainConfig
from training.evaluate import archive_leads, archive_predictions, store_predictions
from training.store import Store


def histograms(predictions: Iterable, mask: np.ndarray) -> dict[float, np.ndarray]:
    """Per event threshold, the probability histogram (``engine.calibration.probability_histogram``) summed over
    the (run, leads, probabilities, observed rain) of ``predictions``."""
    out = {thr: 0 for thr in MODEL_THRESHOLDS}
    for _, _, probs, obs in predictions:
        valid = np.isfinite(obs) & mask
        with np.errstate(invalid="ignore"):
            for thr in MODEL_THRESHOLDS:
                out[thr] = out[thr] + probability_histogram(event_probability(probs, thr), obs >= thr, valid)
    return out


def summary(histogram: np.ndarray, knots: dict) -> dict[str, float]:
    """Mean forecast probability raw and calibrated, the observed frequency, and Murphy's reliability term of
    both (0 = the probabilities mean what they say)."""
    count, sum_p, sum_o = histogram
    has = count > 0
    calibrated = calibrate(sum_p[has] / count[has], knots).astype(np.float64)
    n = count.sum()
    return {
        "observed_frequency": round(float(sum_o.sum() / n), 5),
        "mean_probability_raw": round(float(sum_p.sum() / n), 5),
        "mean_probability_calibrated": round(float(np.sum(count[has] * calibrated) / n), 5),
        "reliability_raw": round(reliability_term(histogram), 6),
        "reliability_calibrated": round(reliability_term(histogram, knots), 6),
    }


def fit_calibration(
    cfg: TrainConfig, model: torch.nn.Module, manifest: dict, device: torch.device | str = "cpu"
) -> tuple[dict[str, dict] | None, dict[str, dict]]:
    """Knots per event (keyed ``f"{threshold:g}"``) fitted on the validation runs, and their summary on the
    test runs and, where ``evaluate`` generated it, the held-out archive. Without validation runs: (None, {})."""
    store = Store(cfg.data.store)
    if not store.runs("val"):
        return None, {}
    mask = Catalog(store.meta["archive"]).grid.qpe_mask
    val = histograms(store_predictions(model, store, store.runs("val"), device), mask)
    knots = {f"{thr:g}": fit_isotonic(h) for thr, h in val.items()}
    measured = {}
    if store.runs("test"):
        measured["test"] = histograms(store_predictions(model, store, store.runs("test"), device), mask)
    heldout = cfg.heldout_archive(cfg.heldout_runs)
    if (heldout / "archive.json").exists():
        cat = Catalog(heldout)
        stats = NormStats.from_dict(manifest["normalisation"])
        leads = archive_leads(cat, cfg.data.lead_times)
        measured[HELDOUT] = histograms(archive_predictions(model, stats, cat, leads, device=device), cat.grid.qpe_mask)
    report = {
        dataset: {f"{thr:g}": summary(h, knots[f"{thr:g}"]) for thr, h in hists.items()}
        for dataset, hists in measured.items()
    }
    return knots, report
