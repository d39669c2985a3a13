"""The any-hour decision: from which probability the model says "this event, at some hour of the run".

The hourly probability threshold (``evaluate.tune_decisions``) is tuned for one hour at a time. Over a whole run, a
pixel has the event if its highest probability over the hours clears a threshold; at the hourly one the shipped
network flags a third of the area where heavy rain falls at some hour (bias 0.33 on a held-out archive,
``results/findings.md``), and loses to the raw NWP that the hour-by-hour scores say it beats. So the run's event gets
its own threshold, tuned the same way: the highest CSI on the validation runs (never the test runs), over the 0.01
steps of the app's slider, in the calibrated probability the app and ``python -m engine verify`` read. It is stored
in the manifest as ``any_hour_probability`` and scored on the test runs and on the held-out archive beside the raw
NWP and beside the hourly threshold; the event and its counts are ``engine.verify.categorical.any_hour_events``'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.calibration import calibrated_events, default_probability_threshold
from engine.data.atomic import atomic_write_bytes
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.weights import load_model
from engine.normalise import NormStats
from engine.verify.case import MODEL_THRESHOLDS
from engine.verify.categorical import (
    TABLE_KEYS,
    any_hour_table,
    bootstrap_interval,
    categorical_scores,
    contingency_events,
    paired_bootstrap_difference,
    sum_tables,
)
from training.config import HELDOUT, TrainConfig
from training.evaluate import archive_leads, archive_predictions, heldout_catalog, store_predictions
from training.store import Store

PROBABILITIES = tuple(round(0.01 * k, 2) for k in range(1, 100))  # the app's slider: 0.01 to 0.99 in 0.01 steps


def run_peaks(events: np.ndarray, observed: np.ndarray, valid: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    """A run's event probability (hours, H, W) reduced to the any-hour event: at each pixel its highest
    probability over the judged hours (-1 where none is), whether the event was observed at some judged hour, and
    whether any hour was judged. "peak >= p" is then the forecast of ``any_hour_events`` at p, for every p."""
    with np.errstate(invalid="ignore"):
        observed_any = (valid & (observed >= threshold)).any(axis=0)
    peak = np.where(valid, events, -1.0).max(axis=0)
    return peak, observed_any, valid.any(axis=0)


def peak_tables(peaks: tuple[np.ndarray, ...], probabilities: Sequence[float]) -> np.ndarray:
    """The any-hour table (``TABLE_KEYS`` order) of one run's :func:`run_peaks` at each probability: (p, 4)."""
    peak, observed_any, judged = peaks
    rows = []
    for p in probabilities:
        t = contingency_events(peak >= p, observed_any, judged)
        rows.append([int(t[k]) for k in TABLE_KEYS])
    return np.asarray(rows, dtype=np.int64)


def network_peaks(predictions: Iterable, mask: np.ndarray, calibration: dict | None) -> dict[float, list[tuple]]:
    """Per event, each run's :func:`run_peaks` of the network's calibrated probabilities, from ``predictions``
    ((run, leads, class probabilities, observed rain) tuples), judged where the rain was observed in ``mask``."""
    out: dict[float, list[tuple]] = {thr: [] for thr in MODEL_THRESHOLDS}
    for _, _, probs, obs in predictions:
        events, _ = calibrated_events(probs, calibration)
        valid = np.isfinite(obs) & mask
        for i, thr in enumerate(MODEL_THRESHOLDS):
            out[thr].append(run_peaks(events[:, i], obs, valid, thr))
    return out


def tune(peaks: list[tuple], probabilities: Sequence[float] = PROBABILITIES) -> tuple[float, float]:
    """The probability with the highest any-hour CSI over ``peaks`` (the validation runs' tables summed), the
    lowest of equals, and that CSI."""
    total = sum(peak_tables(p, probabilities) for p in peaks)
    csi = categorical_scores(dict(zip(TABLE_KEYS, total.T, strict=True)))["csi"]
    best = int(np.argmax(np.nan_to_num(csi, nan=-1.0)))
    return probabilities[best], round(float(csi[best]), 5)


def tables_at(peaks: list[tuple], probability: float) -> list[dict[str, int]]:
    """Each run's any-hour table at ``probability``."""
    return [dict(zip(TABLE_KEYS, map(int, peak_tables(p, [probability])[0]), strict=True)) for p in peaks]


def nwp_tables(cat: Catalog, runs: Sequence[str], leads: list[int]) -> dict[float, list[dict[str, int]]]:
    """Per event, each run's any-hour table of the raw NWP rain (mm/h) against the archive's QPE, as
    ``engine verify``; each run read once."""
    out: dict[float, list[dict[str, int]]] = {thr: [] for thr in MODEL_THRESHOLDS}
    for run in runs:
        rain = cat.load_run(run, leads, channels=("tp",))["tp"].values
        qpe = cat.load_qpe(run, leads).values
        for thr in MODEL_THRESHOLDS:
            out[thr].append(any_hour_table(rain, qpe, thr, cat.verify_mask))
    return out


def summary(tables: list[dict[str, int]]) -> dict:
    """The summed table, its CSI and bias and their 95 % intervals over runs."""
    total = {k: int(v) for k, v in sum_tables(tables).items()}
    s = categorical_scores(total)
    return {
        **total,
        "csi": round(float(s["csi"]), 5),
        "bias": round(float(s["bias"]), 4),
        "csi_ci95": [round(v, 5) for v in bootstrap_interval(tables, "csi")],
        "bias_ci95": [round(v, 4) for v in bootstrap_interval(tables, "bias")],
    }


def difference(a: list[dict], b: list[dict]) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in paired_bootstrap_difference(a, b).items()}


def score(cfg: TrainConfig, weights: Path, device: torch.device | str = "cpu", progress: bool = True) -> dict:
    """Tune the any-hour probability of the network in ``weights`` on the config's validation runs and score it on
    its test runs and its held-out archive, beside the raw NWP and the hourly threshold."""
    model, manifest = load_model(weights)
    store = Store(cfg.data.store)
    store.require_current(progress)
    if not store.runs("val"):
        raise DataError(f"no validation runs to tune on: the config's split is {cfg.split}", cfg.data.store)
    if manifest.get("data_fingerprint") != store.meta["fingerprint"]:
        # Another store's validation runs may be these weights' training runs: a threshold tuned there flatters.
        raise DataError(
            f"these weights were trained on other data ({manifest.get('data_fingerprint')}) than the config's store "
            f"({store.meta['fingerprint']}): tune them with the config they were trained under",
            weights,
        )
    archive = Catalog(store.meta["archive"])
    calibration = manifest.get("calibration")
    say = tqdm.write if progress else (lambda _: None)
    say("any-hour: predicting the validation runs")
    val = network_peaks(store_predictions(model, store, store.runs("val"), device), archive.grid.qpe_mask, calibration)
    tuned = {thr: tune(val[thr]) for thr in MODEL_THRESHOLDS}
    heldout = heldout_catalog(cfg, progress)
    stats = NormStats.from_dict(manifest["normalisation"])
    datasets = {
        "test": (archive, store.runs("test"), archive_leads(archive, cfg.data.lead_times)),
        HELDOUT: (heldout, heldout.runs(), archive_leads(heldout, cfg.data.lead_times)),
    }
    result: dict = {
        "weights_sha256": manifest["sha256"],
        "validation_runs": store.runs("val"),
        "any_hour_probability": {f"{t:g}": p for t, (p, _) in tuned.items()},
        "validation_csi": {f"{t:g}": c for t, (_, c) in tuned.items()},
        "hourly_probability": {f"{t:g}": default_probability_threshold(manifest, t) for t in MODEL_THRESHOLDS},
        "datasets": {},
    }
    for name, (cat, runs, leads) in datasets.items():
        say(f"any-hour: predicting {name} ({len(runs)} runs)")
        if name == "test":
            predictions = store_predictions(model, store, runs, device)
        else:
            predictions = archive_predictions(model, stats, cat, leads, None, device)
        peaks = network_peaks(tqdm(predictions, total=len(runs), disable=not progress), cat.verify_mask, calibration)
        rows = []
        nwp_by_event = nwp_tables(cat, runs, leads)
        for thr in MODEL_THRESHOLDS:
            model_any = tables_at(peaks[thr], tuned[thr][0])
            model_hourly = tables_at(peaks[thr], result["hourly_probability"][f"{thr:g}"])
            nwp = nwp_by_event[thr]
            rows.append(
                {
                    "threshold": thr,
                    "raw_nwp": summary(nwp),
                    "model_any_hour": summary(model_any),
                    "model_hourly": summary(model_hourly),
                    "any_hour_minus_nwp": difference(model_any, nwp),
                    "any_hour_minus_hourly": difference(model_any, model_hourly),
                }
            )
        result["datasets"][name] = {"runs": runs, "lead_times": [leads[0], leads[-1]], "rows": rows}
    return result


def write(cfg: TrainConfig, result: dict) -> Path:
    """``any_hour.json`` and a readable ``any_hour.md`` in the config's results folder."""
    results = Path(cfg.results_dir)
    atomic_write_bytes(results / "any_hour.json", (json.dumps(result, indent=2) + "\n").encode())
    path = results / "any_hour.md"
    atomic_write_bytes(path, render(result).encode())
    return path


def render(result: dict) -> str:
    """The tuned probabilities and the scores of ``any_hour.json`` as Markdown."""
    tuned = result["any_hour_probability"]
    lines = [
        "# The event at some hour of the run",
        "",
        "Written by `python -m training any-hour --config training/configs/lite.yaml` for the shipped weights "
        f"(sha256 {result['weights_sha256'][:12]}...). A pixel has the event if rain >= the threshold in some "
        "observed hour of the run; the model has it where its highest calibrated P over those hours reaches the "
        "any-hour probability (tuned on the validation runs, "
        + ", ".join(f"{t} mm/h: {p:.2f}" for t, p in tuned.items())
        + ") or, for comparison, the hourly one ("
        + ", ".join(f"{t} mm/h: {p:.2f}" for t, p in result["hourly_probability"].items())
        + "). 95 % intervals resample runs; the differences are paired over runs.",
        "",
        "| data | runs | event (mm/h) | forecast | CSI (95 %) | bias (95 %) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    names = {"raw_nwp": "raw NWP", "model_hourly": "model, hourly P", "model_any_hour": "model, any-hour P"}
    for dataset, d in result["datasets"].items():
        for row in d["rows"]:
            for key, name in names.items():
                s = row[key]
                lo, hi = s["csi_ci95"]
                blo, bhi = s["bias_ci95"]
                lines.append(
                    f"| {dataset} | {len(d['runs'])} | {row['threshold']:g} | {name} | {s['csi']:.3f} "
                    f"({lo:.3f}-{hi:.3f}) | {s['bias']:.2f} ({blo:.2f}-{bhi:.2f}) |"
                )
    lines += ["", "| data | event (mm/h) | CSI difference | 95 % | share of resamples better |", "| --- " * 5 + "|"]
    for dataset, d in result["datasets"].items():
        for row in d["rows"]:
            for key, name in DIFFERENCES.items():
                r = row[key]
                lines.append(
                    f"| {dataset} | {row['threshold']:g} | {name}: {r['difference']:+.3f} | {r['low']:+.3f} to "
                    f"{r['high']:+.3f} | {r['p_better']:.2f} |"
                )
    return "\n".join(lines) + "\n"


DIFFERENCES = {"any_hour_minus_nwp": "any-hour P - raw NWP", "any_hour_minus_hourly": "any-hour P - hourly P"}


def ship_any_hour(manifest: dict, result: dict) -> dict:
    """The manifest with the tuned any-hour probabilities and their scores (test and held-out) added."""
    metrics = dict(manifest.get("metrics") or {})
    metrics["any_hour"] = {
        dataset: {
            f"{row['threshold']:g}": {
                key: {"csi": row[key]["csi"], "bias": row[key]["bias"], "csi_ci95": row[key]["csi_ci95"]}
                for key in ("raw_nwp", "model_hourly", "model_any_hour")
            }
            for row in d["rows"]
        }
        for dataset, d in result["datasets"].items()
    }
    return {**manifest, "any_hour_probability": result["any_hour_probability"], "metrics": metrics}
