"""The shipped network's probability calibration: fitted on the validation runs, measured where it was not fitted.

``engine.calibration`` holds the formula and applies it; this module feeds it the network's probabilities on the
training store's validation runs (fit) and on its test runs and the held-out archive (measure). The decision
thresholds and every score in ``evaluation.json`` stay on the raw probabilities; calibration changes what the
probabilities say, not which pixels a tuned decision marks.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.calibration import calibrated_bins, fit_isotonic
from engine.data.atomic import atomic_write_bytes
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.ensemble import SeedEnsemble
from engine.model.manifest import FULL_METHOD, fair_unet
from engine.model.weights import load_model
from engine.normalise import NormStats
from engine.verify.case import MODEL_THRESHOLDS, event_probability
from engine.verify.categorical import TABLE_KEYS, paired_bootstrap_difference
from engine.verify.probabilistic import (
    binned_brier,
    binned_reliability,
    binned_roc_area,
    paired_bootstrap_roc_area,
    pod_at_pofd,
    probability_histogram,
)
from training.config import HELDOUT, TrainConfig
from training.evaluate import archive_leads, archive_predictions, store_predictions
from training.store import Store
from training.thresholds import matched_rule, matched_tables, paired_bootstrap_csi, threshold_costs, tuned_edge


def histograms(predictions: Iterable, mask: np.ndarray) -> dict[float, np.ndarray]:
    """Per event threshold, one probability histogram (``engine.verify.probabilistic.probability_histogram``)
    per run of ``predictions`` ((run, leads, probabilities, observed rain) tuples): shape (runs, 3, bins)."""
    out: dict[float, list[np.ndarray]] = {thr: [] for thr in MODEL_THRESHOLDS}
    for _, _, probs, obs in predictions:
        valid = np.isfinite(obs) & mask
        with np.errstate(invalid="ignore"):
            for thr in MODEL_THRESHOLDS:
                out[thr].append(probability_histogram(event_probability(probs, thr), obs >= thr, valid))
    return {thr: np.stack(h) for thr, h in out.items()}


def summary(histogram: np.ndarray, knots: dict) -> dict[str, float]:
    """Mean forecast probability raw and calibrated, the observed frequency, and Murphy's reliability term of
    both (0 = the probabilities mean what they say)."""
    count, sum_p, sum_o = histogram
    calibrated = calibrated_bins(histogram, knots)
    n = count.sum()
    return {
        "observed_frequency": round(float(sum_o.sum() / n), 5),
        "mean_probability_raw": round(float(sum_p.sum() / n), 5),
        "mean_probability_calibrated": round(float(np.nansum(count * calibrated) / n), 5),
        "reliability_raw": round(binned_reliability(histogram), 6),
        "reliability_calibrated": round(binned_reliability(histogram, calibrated), 6),
    }


def network_histograms(
    model: torch.nn.Module,
    manifest: dict,
    store: Store,
    heldout: Catalog | None,
    leads: list[int],
    inputs: dict | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, dict[float, np.ndarray]]:
    """Per data set and event, the per-run histograms (``histograms``) of the store's validation runs (``"val"``,
    where the calibration is fitted), its test runs and the ``heldout`` archive's ``leads`` (``inputs``: see
    ``archive_predictions``), where there are any."""
    mask = Catalog(store.meta["archive"]).grid.qpe_mask
    out = {"val": histograms(store_predictions(model, store, store.runs("val"), device), mask)}
    if store.runs("test"):
        out["test"] = histograms(store_predictions(model, store, store.runs("test"), device), mask)
    if heldout is not None:
        stats = NormStats.from_dict(manifest["normalisation"])
        predictions = archive_predictions(model, stats, heldout, leads, inputs, device)
        out[HELDOUT] = histograms(predictions, heldout.grid.qpe_mask)
    return out


def fitted_knots(hists: dict[str, dict[float, np.ndarray]]) -> dict[float, dict]:
    """Isotonic knots per event, fitted on the validation runs' histograms only."""
    return {thr: fit_isotonic(h.sum(0)) for thr, h in hists["val"].items()}


def _heldout(cfg: TrainConfig) -> tuple[Catalog | None, list[int]]:
    """The held-out archive ``evaluate`` generated for the config and its lead times, or (None, [])."""
    path = cfg.heldout_archive(cfg.heldout_runs)
    if not (path / "archive.json").exists():
        return None, []
    cat = Catalog(path)
    return cat, archive_leads(cat, cfg.data.lead_times)


def fit_calibration(
    cfg: TrainConfig, model: torch.nn.Module, manifest: dict, device: torch.device | str = "cpu"
) -> tuple[dict[str, dict] | None, dict[str, dict]]:
    """Knots per event (keyed ``f"{threshold:g}"``) fitted on the validation runs, and their summary on the
    test runs and, where ``evaluate`` generated it, the held-out archive. Without validation runs: (None, {})."""
    store = Store(cfg.data.store)
    if not store.runs("val"):
        return None, {}
    hists = network_histograms(model, manifest, store, *_heldout(cfg), device=device)
    knots = fitted_knots(hists)
    report = {
        dataset: {f"{thr:g}": summary(h.sum(0), knots[thr]) for thr, h in by_event.items()}
        for dataset, by_event in hists.items()
        if dataset != "val"
    }
    return {f"{thr:g}": k for thr, k in knots.items()}, report


POFD_LEVELS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def probabilistic_skill(histogram: np.ndarray, knots: dict) -> dict[str, float]:
    """Brier skill score against the sample climatology (1 - BS / (o (1 - o))) of the calibrated forecast, its
    reliability term, the ROC area (which calibration does not change) and points of the ROC curve (POD at the
    false-alarm rates ``POFD_LEVELS``)."""
    count, _, sum_o = histogram
    base = sum_o.sum() / count.sum()
    forecast = calibrated_bins(histogram, knots)
    return {
        "observed_frequency": round(float(base), 5),
        "brier_skill": round(1 - binned_brier(histogram, forecast) / (base * (1 - base)), 4),
        "reliability": round(binned_reliability(histogram, forecast), 6),
        "roc_area": round(binned_roc_area(histogram), 4),
        "pod_at_pofd": [round(float(v), 4) for v in pod_at_pofd(histogram, POFD_LEVELS)],
    }


# Pooled over their seeds: the shipped method against the U-Net and against itself without pre-training, and the
# architecture against the U-Net.
PAIRS = ((FULL_METHOD, "unet"), (FULL_METHOD, "scratch"), ("scratch", "unet"))


def seed_groups(names: Iterable[str]) -> dict[str, list[str]]:
    """``X`` -> [``X``, ``X_seed1``, ...] for the names given."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(re.sub(r"_seed\d+", "", name), []).append(name)
    return groups


def collect_histograms(
    cfg: TrainConfig,
    weights: dict[str, Path],
    progress: bool = True,
    groups: dict[str, list[str]] | None = None,
) -> dict[str, dict[str, dict[float, np.ndarray]]]:
    """``network_histograms`` of each network in ``weights``, the held-out GRIB read once for all; or, with
    ``groups`` (name -> networks of ``weights``), of each group as one ``SeedEnsemble`` (probabilities averaged),
    keyed by its name: ``seed_groups`` for each method's seeds."""
    store = Store(cfg.data.store)
    heldout, leads = _heldout(cfg)
    if heldout is None:
        raise DataError(
            "no held-out archive yet: run `python -m training evaluate` first", cfg.heldout_archive(cfg.heldout_runs)
        )
    inputs: dict = {}
    out = {}
    ensemble = groups is not None
    groups = groups if ensemble else {name: [name] for name in weights}
    for key, names in tqdm(groups.items(), desc="ensembles" if ensemble else "probabilities", disable=not progress):
        loaded = [load_model(weights[n]) for n in names]
        if any(m["normalisation"] != loaded[0][1]["normalisation"] for _, m in loaded):
            raise DataError(f"the members of {key} were normalised differently: not one ensemble", weights[names[0]])
        model = SeedEnsemble([m for m, _ in loaded]) if ensemble else loaded[0][0]
        out[key] = network_histograms(model.eval(), loaded[0][1], store, heldout, leads, inputs)
    return out


def ensemble_gains(
    ensembles: dict[str, dict[str, dict[float, np.ndarray]]],
    singles: dict[str, dict[str, dict[float, np.ndarray]]],
    shipped: str | None = None,
) -> list[dict]:
    """Per method, data set (the validation runs, where every threshold was tuned, included) and event: CSI of
    the ensemble minus its members', each at its own validation-tuned threshold, the members' tables pooled (the
    ensemble's counted once per member), with the paired run bootstrap; and minus the ``shipped`` network alone
    where it is one of the members (should the ensemble replace it?)."""
    rows = []
    for base, ens in ensembles.items():
        members = seed_groups(singles).get(base, [])
        against = [("members", members)] + ([(shipped, [shipped])] if shipped in members else [])
        for name, others in [a for a in against if a[1]]:
            for dataset in ens:
                for thr in MODEL_THRESHOLDS:
                    d = paired_bootstrap_csi(
                        [ens[dataset][thr]] * len(others),
                        [singles[n][dataset][thr] for n in others],
                        [tuned_edge(ens["val"][thr].sum(0))] * len(others),
                        [tuned_edge(singles[n]["val"][thr].sum(0)) for n in others],
                    )
                    rows.append(
                        {"method": base, "against": name, "members": len(members), "dataset": dataset}
                        | {"threshold": thr}
                        | {k: round(v, 4) for k, v in d.items()}
                    )
    return rows


def probability_pairs(ship: str = FULL_METHOD) -> list[tuple[str, str]]:
    """``PAIRS``, and for a shipped recipe beyond the full method (``pretrained_continuous_grid2``) the shipped
    method against the U-Net trained the same way (``unet_grid2``), the plain U-Net and the full method without
    the recipe."""
    if ship == FULL_METHOD:
        return list(PAIRS)
    return [*PAIRS, (ship, fair_unet(ship)), (ship, "unet"), (ship, FULL_METHOD)]


def _pairs(groups: dict[str, list[str]], datasets: Iterable[str], ship: str):
    """(a, b, dataset, event) of every pair of ``probability_pairs`` whose two sides are both among ``groups``."""
    for a, b in dict.fromkeys(probability_pairs(ship)):
        if a in groups and b in groups:
            for dataset in datasets:
                for thr in MODEL_THRESHOLDS:
                    yield a, b, dataset, thr


def score_probabilities(per_run: dict[str, dict[str, dict[float, np.ndarray]]], ship: str = FULL_METHOD) -> dict:
    """Each method calibrated on its validation runs, as ``ship`` does, then scored as a probability forecast on
    the test runs and the held-out archive: threshold-free, where CSI needs a decision threshold. With both sides
    of a pair of ``probability_pairs(ship)`` present, the paired bootstrap over runs of their ROC-area difference,
    each side's seeds pooled (their histograms summed run by run). Then, under ``thresholds``, what the decision
    threshold costs in CSI (``training.thresholds``): per network, and the same pairs compared at their
    validation-tuned thresholds and in hindsight."""
    methods = {}
    for name, hists in per_run.items():
        knots = fitted_knots(hists)
        methods[name] = {
            dataset: {f"{thr:g}": probabilistic_skill(h.sum(0), knots[thr]) for thr, h in by_event.items()}
            for dataset, by_event in hists.items()
            if dataset != "val"
        }
    groups = seed_groups(per_run)
    datasets = [d for d in next(iter(per_run.values()), {}) if d != "val"]
    comparisons = []
    for a, b, dataset, thr in _pairs(groups, datasets, ship):
        pooled = [sum(per_run[n][dataset][thr] for n in groups[side]) for side in (a, b)]
        comparisons.append(
            {
                "a": a,
                "b": b,
                "seeds": [len(groups[a]), len(groups[b])],
                "dataset": dataset,
                "threshold": thr,
                "runs": int(pooled[0].shape[0]),
                **{k: round(v, 4) for k, v in paired_bootstrap_roc_area(*pooled).items()},
            }
        )
    return {"methods": methods, "comparisons": comparisons, "thresholds": decision_costs(per_run, datasets, ship)}


def decision_costs(
    per_run: dict[str, dict[str, dict[float, np.ndarray]]], datasets: list[str], ship: str = FULL_METHOD
) -> dict:
    """Per network and event ``threshold_costs``; per pair, data set and event the pooled CSI difference at the
    validation-tuned thresholds, in hindsight and with expected-count matching, with their paired run bootstraps."""
    rules = {
        (name, thr): matched_rule(hists["val"][thr]) for name, hists in per_run.items() for thr in MODEL_THRESHOLDS
    }
    costs = {
        name: {
            f"{thr:g}": threshold_costs({d: h[thr] for d, h in hists.items()}, rules[name, thr])
            for thr in MODEL_THRESHOLDS
        }
        for name, hists in per_run.items()
    }
    groups = seed_groups(per_run)
    comparisons = []
    for a, b, dataset, thr in _pairs(groups, datasets, ship):
        seeds = [[per_run[n][dataset][thr] for n in groups[side]] for side in (a, b)]
        bins = seeds[0][0].shape[-1]
        edges = [[round(costs[n][f"{thr:g}"]["threshold"] * bins) for n in groups[side]] for side in (a, b)]
        row = {"a": a, "b": b, "seeds": [len(groups[a]), len(groups[b])], "dataset": dataset, "threshold": thr}
        for rule, (ea, eb) in (("tuned", edges), ("hindsight", (None, None))):
            row[rule] = {k: round(v, 4) for k, v in paired_bootstrap_csi(*seeds, ea, eb).items()}
        matched = [
            _summed_by_run([matched_tables(per_run[n][dataset][thr], rules[n, thr]) for n in groups[side]])
            for side in (a, b)
        ]
        row["matched"] = {k: round(v, 4) for k, v in paired_bootstrap_difference(*matched).items()}
        comparisons.append(row)
    return {"methods": costs, "comparisons": comparisons}


def _summed_by_run(seeds: list[list[dict[str, int]]]) -> list[dict[str, int]]:
    """Per run, the seeds' tables summed."""
    return [{k: sum(t[k] for t in run) for k in TABLE_KEYS} for run in zip(*seeds, strict=True)]


def probabilities_markdown(result: dict) -> str:
    """Per data set and event, each method's seeds side by side (``X``, ``X_seed1``, ...) and their mean; then
    the paired tests of the ROC area."""
    methods = result["methods"]
    groups = seed_groups(methods)
    lines = [
        "# Probability forecasts, calibrated",
        "",
        "Written by `python -m training probabilities --config FILE`. Each network's P(>= 0.1) and P(>= 10 mm/h),",
        "calibrated on the validation runs (isotonic, as `ship` does for the shipped network), scored as probability",
        "forecasts over every pixel, lead time and run: Brier skill score against the sample climatology (BSS, 1 is",
        "perfect, 0 no better than always forecasting the observed frequency) and the ROC area (discrimination, which",
        "no calibration changes). Neither needs a decision threshold, which the CSI tables do. Seeds: `_seedN`.",
    ]
    if "ensemble_gains" in result:
        lines += [
            "",
            "**Seed ensembles** (`--ensemble`): each method here is one network, its seeds' class probabilities",
            "averaged, so every `seeds` count below is 1 ensemble.",
        ]
    datasets = next(iter(methods.values())).keys() if methods else []
    for dataset in datasets:
        for event in ("0.1", "10"):
            lines += [
                "",
                f"## {dataset}, P(>= {event} mm/h)",
                "",
                "| method | seeds | BSS per seed | BSS mean | ROC area per seed | ROC area mean |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for base, names in groups.items():
                rows = [methods[n][dataset][event] for n in names]
                bss, auc = [r["brier_skill"] for r in rows], [r["roc_area"] for r in rows]
                lines.append(
                    f"| {base} | {len(names)} | {', '.join(f'{v:.3f}' for v in bss)} | {np.mean(bss):.3f} | "
                    f"{', '.join(f'{v:.3f}' for v in auc)} | {np.mean(auc):.3f} |"
                )
            lines += [
                "",
                "Where on the ROC curve: POD at fixed false-alarm rates POFD (seed means). CSI of a rare event is",
                "decided near the left end (POFD about its base rate); the ROC area is mostly made further right.",
                "",
                "| method | " + " | ".join(f"POD at POFD {f:g}" for f in POFD_LEVELS) + " |",
                "| --- |" + " --- |" * len(POFD_LEVELS),
            ]
            for base, names in groups.items():
                pods = np.mean([methods[n][dataset][event]["pod_at_pofd"] for n in names], axis=0)
                lines.append(f"| {base} | " + " | ".join(f"{v:.3f}" for v in pods) + " |")
    if result["comparisons"]:
        lines += [
            "",
            "## Is the ROC-area difference real? (paired bootstrap over runs, seeds pooled)",
            "",
            "ROC area(A) - ROC area(B) with each side's seeds pooled (their histograms summed run by run), its 95 %",
            "interval from 2000 resamples of the runs (the same draw for both sides), and the share of resamples in",
            "which A ranks better.",
            "",
            "| A | B | seeds | data | event | runs | ROC area(A) - ROC area(B) | 95 % interval | P(A better) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in result["comparisons"]:
            lines.append(
                f"| {c['a']} | {c['b']} | {c['seeds'][0]} vs {c['seeds'][1]} | {c['dataset']} | "
                f">= {c['threshold']:g} mm/h | {c['runs']} | {c['difference']:+.4f} | "
                f"{c['low']:+.4f} to {c['high']:+.4f} | {c['p_better']:.2f} |"
            )
    if result.get("thresholds"):
        lines += thresholds_markdown(result["thresholds"])
    if result.get("ensemble_gains"):
        lines += [
            "",
            "## What the ensemble adds (CSI)",
            "",
            "Here each method is the seed ensemble of its networks (`--ensemble`: class probabilities averaged over",
            "the seeds). CSI of the ensemble minus that of its members (their tables pooled), or of the shipped",
            "network alone, each at its own validation-tuned threshold; 95 % interval and P(ensemble better) from",
            "2000 paired resamples of the runs. On `val` every threshold was tuned on the data it is scored on.",
            "",
            "| method | members | against | data | event | ensemble - against | 95 % interval | P(ensemble better) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for g in result["ensemble_gains"]:
            lines.append(
                f"| {g['method']} | {g['members']} | {g['against']} | {g['dataset']} | >= {g['threshold']:g} mm/h | "
                f"{g['difference']:+.4f} | {g['low']:+.4f} to {g['high']:+.4f} | {g['p_better']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def thresholds_markdown(thresholds: dict) -> list[str]:
    """The CSI each network gets at its validation-tuned threshold beside the CSI of hindsight (``training.
    thresholds``), per event; then the pairs compared both ways."""
    lines = [
        "",
        "## What the decision threshold costs (CSI)",
        "",
        "CSI judges yes/no decisions: the network's ranking of the pixels *and* the probability threshold it decides",
        "at, tuned on the validation runs as `evaluate` does (raw probabilities, steps of 0.05). *Hindsight* is the",
        "best CSI any threshold (steps of 0.005) gives on the data itself: an upper bound no forecast can claim, since",
        "it picks the threshold by looking at the observations. The gap is what the threshold's transfer from the",
        "validation runs lost; the hindsight CSI compares what the networks can do at their best. Bias: frequency",
        "bias (forecast / observed events). *Matched*: a rule fixed before its results were seen: each run decided",
        "at the threshold that marks as many pixels as its calibrated probabilities expect events, times a ratio",
        "tuned on the validation runs (`training/thresholds.py`).",
    ]
    methods = thresholds["methods"]
    first = next(iter(methods.values()))["10"]
    datasets = [d for d, v in first.items() if isinstance(v, dict)]
    for event in ("10", "0.1"):
        head = "| network | tuned threshold | validation CSI | matched ratio |"
        rule = "| --- | --- | --- | --- |"
        for d in datasets:
            head += f" {d}: CSI (bias) at it | {d}: hindsight CSI (bias) at threshold | {d}: matched CSI (bias) |"
            rule += " --- | --- | --- |"
        lines += ["", f"### >= {event} mm/h", "", head, rule]
        for name, by_event in methods.items():
            r = by_event[event]
            row = f"| {name} | {r['threshold']:.2f} | {r['validation_csi']:.3f} | {r.get('matched_ratio', '-')} |"
            for d in datasets:
                x = r[d]
                row += (
                    f" {x['csi']:.3f} ({x['bias']:.2f}) |"
                    f" {x['hindsight_csi']:.3f} ({x['hindsight_bias']:.2f}) at {x['hindsight_threshold']:.3f} |"
                    f" {x['matched_csi']:.3f} ({x['matched_bias']:.2f}) |"
                )
            lines.append(row)
    if thresholds["comparisons"]:
        lines += [
            "",
            "### Pairs, seeds pooled: CSI(A) - CSI(B) at the tuned thresholds, in hindsight and matched",
            "",
            "Each seed's table at its own threshold, the seeds' tables summed; 95 % interval and P(A better) from 2000",
            "paired resamples of the runs, in which the hindsight thresholds are found again.",
            "",
            "| A | B | seeds | data | event | tuned: A - B (interval) | P(A better) | hindsight: A - B (interval) | "
            "P(A better) | matched: A - B (interval) | P(A better) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in thresholds["comparisons"]:
            row = f"| {c['a']} | {c['b']} | {c['seeds'][0]} vs {c['seeds'][1]} | {c['dataset']} |"
            row += f" >= {c['threshold']:g} mm/h |"
            for rule in ("tuned", "hindsight", "matched"):
                x = c[rule]
                row += f" {x['difference']:+.4f} ({x['low']:+.4f} to {x['high']:+.4f}) | {x['p_better']:.2f} |"
            lines.append(row)
    return lines


def histograms_path(cfg: TrainConfig, stem: str = "probabilities") -> Path:
    return Path(cfg.results_dir) / f"{stem}_histograms.npz"


def write_histograms(path: Path, per_run: dict[str, dict[str, dict[float, np.ndarray]]]) -> None:
    """The per-run histograms ``collect_histograms`` gathered, one array per network, data set and event (key
    ``"network|dataset|event"``), so that their scores can be computed again without the networks."""
    arrays = {
        f"{name}|{dataset}|{thr:g}": np.asarray(h, dtype=np.float64)
        for name, hists in per_run.items()
        for dataset, by_event in hists.items()
        for thr, h in by_event.items()
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_histograms(path: Path) -> dict[str, dict[str, dict[float, np.ndarray]]]:
    """What ``write_histograms`` wrote."""
    out: dict = {}
    with np.load(path, allow_pickle=False) as f:
        for key in f.files:
            name, dataset, thr = key.split("|")
            out.setdefault(name, {}).setdefault(dataset, {})[float(thr)] = f[key]
    return out


def write_probabilities(cfg: TrainConfig, result: dict, stem: str = "probabilities") -> Path:
    """``{stem}.json`` and ``{stem}.md`` beside ``evaluation.json``; returns the markdown's path."""
    folder = Path(cfg.results_dir)
    atomic_write_bytes(folder / f"{stem}.json", (json.dumps(result, indent=1) + "\n").encode())
    atomic_write_bytes(folder / f"{stem}.md", probabilities_markdown(result).encode())
    return folder / f"{stem}.md"
