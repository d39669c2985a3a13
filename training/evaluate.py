"""Evaluation on the held-out test runs (and on an archive from a seed never used in training), through
``engine.verify``: per lead time and aggregated, for every trained method and the raw NWP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.data.atomic import atomic_write_bytes
from engine.data.catalog import Catalog
from engine.data.demo import generate
from engine.inference import class_to_rain, predict_probabilities
from engine.model.weights import load_model
from engine.normalise import NormStats, normalise, stack_channels
from engine.verify.categorical import TABLE_KEYS, categorical_scores, contingency_table, sum_tables
from engine.verify.report import score_folder
from training.config import TrainConfig
from training.store import Store

THRESHOLDS = (0.1, 10.0)
SCORES = ("csi", "pod", "far", "bias", "f1", "ets")
HELDOUT_SEED = 2024


def _rows(method: str, dataset: str, per_lead: dict[float, dict], leads: list[int]) -> list[dict]:
    rows = []
    for thr in THRESHOLDS:
        table = per_lead[thr]
        for i, lead in enumerate([*leads, None]):
            t = {k: int(np.sum(table[k]) if lead is None else table[k][i]) for k in TABLE_KEYS}
            s = categorical_scores(t)
            rows.append(
                {
                    "method": method,
                    "dataset": dataset,
                    "threshold": thr,
                    "lead_time": lead,
                    **t,
                    **{k: (None if not np.isfinite(s[k]) else round(float(s[k]), 5)) for k in SCORES},
                }
            )
    return rows


def _score_model_on_store(model: torch.nn.Module, store: Store, runs: list[str]) -> tuple[dict, list[int]]:
    samples = store.meta["samples"]
    mask = Catalog(store.meta["archive"]).grid.qpe_mask
    tables: dict[float, list] = {thr: [] for thr in THRESHOLDS}
    leads: list[int] = []
    for run in runs:
        idx = [i for i, s in enumerate(samples) if s["run"] == run]
        leads = [samples[i]["lead"] for i in idx]
        probs = predict_probabilities(model, np.asarray(store.x[idx[0] : idx[-1] + 1], dtype=np.float32))
        fc, ob = class_to_rain(probs), np.asarray(store.y[idx[0] : idx[-1] + 1])
        for thr in THRESHOLDS:
            tables[thr].append(contingency_table(fc, ob, thr, mask, per_leading=True))
    return {thr: sum_tables(t) for thr, t in tables.items()}, leads


def _score_model_on_archive(model: torch.nn.Module, stats: NormStats, cat: Catalog) -> tuple[dict, list[int]]:
    tables: dict[float, list] = {thr: [] for thr in THRESHOLDS}
    leads = [ld for ld in cat.lead_times(cat.runs()[0]) if ld > 0]
    for run in cat.runs():
        x = normalise(stack_channels(cat.load_run(run, leads)), stats)
        fc = class_to_rain(predict_probabilities(model, x))
        ob = cat.load_qpe(run, leads).values
        for thr in THRESHOLDS:
            tables[thr].append(contingency_table(fc, ob, thr, cat.grid.qpe_mask, per_leading=True))
    return {thr: sum_tables(t) for thr, t in tables.items()}, leads


def _nwp_rows(cat: Catalog, runs: list[str], dataset: str) -> list[dict]:
    result = score_folder(cat, "nwp", runs, None, THRESHOLDS, n_resamples=10)
    return [
        {
            "method": "raw_nwp",
            "dataset": dataset,
            "threshold": r["threshold"],
            "lead_time": r["lead_time"],
            **{k: r[k] for k in TABLE_KEYS},
            **{k: r[k] for k in SCORES},
        }
        for r in result["scores"]
    ]


def evaluate(cfg: TrainConfig, methods: list[str], weights: dict[str, Path], progress: bool = True) -> dict:
    store = Store(cfg.data.store)
    test_runs = store.runs("test")
    torch.set_num_threads(cfg.threads)
    rows = _nwp_rows(Catalog(cfg.data.archive), test_runs, "test")
    for name in methods:
        model, _ = load_model(weights[name])
        tables, leads = _score_model_on_store(model, store, test_runs)
        rows += _rows(name, "test", tables, leads)
        if progress:
            agg = [r for r in rows if r["method"] == name and r["lead_time"] is None]
            print(f"evaluated {name}: " + ", ".join(f"CSI@{r['threshold']:g} {r['csi']}" for r in agg))
    # A fresh archive from a seed never used in training: the shipped method vs raw NWP.
    heldout = cfg.out_dir / f"heldout_seed{HELDOUT_SEED}"
    if not (heldout / "archive.json").exists():
        generate(heldout, runs=6, seed=HELDOUT_SEED, progress=progress)
    cat = Catalog(heldout)
    rows += _nwp_rows(cat, cat.runs(), f"heldout_seed{HELDOUT_SEED}")
    model, manifest = load_model(weights[cfg.ship])
    tables, leads = _score_model_on_archive(model, NormStats.from_dict(manifest["normalisation"]), cat)
    rows += _rows(cfg.ship, f"heldout_seed{HELDOUT_SEED}", tables, leads)
    result = {"config": cfg.source, "test_runs": test_runs, "train_runs": store.runs("train"), "rows": rows}
    results = Path(cfg.results_dir)
    atomic_write_bytes(results / "evaluation.json", (json.dumps(result, indent=1) + "\n").encode())
    atomic_write_bytes(results / "README.md", render(result).encode())
    return result


def headline(rows: list[dict], method: str, dataset: str = "test") -> dict[str, float | None]:
    out = {}
    for r in rows:
        if r["method"] == method and r["dataset"] == dataset and r["lead_time"] is None:
            out[f"csi_{r['threshold']:g}"] = r["csi"]
            out[f"f1_{r['threshold']:g}"] = r["f1"]
            out[f"bias_{r['threshold']:g}"] = r["bias"]
    return out


def _window(rows: list[dict], method: str, dataset: str, thr: float, lo: int = 25, hi: int = 30) -> float | None:
    sel = [
        r
        for r in rows
        if r["method"] == method
        and r["dataset"] == dataset
        and r["threshold"] == thr
        and r["lead_time"] is not None
        and lo <= r["lead_time"] <= hi
    ]
    t = {k: sum(r[k] for r in sel) for k in TABLE_KEYS}
    v = categorical_scores(t)["csi"]
    return None if not np.isfinite(v) else round(float(v), 4)


def render(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# Evaluation",
        "",
        "Written by `python -m training evaluate --config training/configs/lite.yaml` (see `evaluation.json` for",
        "every lead time). Contingency tables summed over all test runs, lead times 1-48 h and QPE-valid pixels",
        "before the ratio. Model forecasts are the most likely class; CSI at 10 mm/h counts class 2 as the event.",
        "",
        f"Test runs: {', '.join(result['test_runs'])}",
        "",
    ]
    for dataset in sorted({r["dataset"] for r in rows}, key=lambda d: d != "test"):
        lines += [
            f"## {dataset}",
            "",
            "| method | CSI 0.1 | F1 0.1 | bias 0.1 | CSI 10 | F1 10 | POD 10 | FAR 10 | bias 10 | ETS 10 "
            "| CSI 10, 25-30 h | CSI 10 vs NWP |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        base = headline(rows, "raw_nwp", dataset).get("csi_10")
        for method in dict.fromkeys(r["method"] for r in rows if r["dataset"] == dataset):
            agg = {
                r["threshold"]: r
                for r in rows
                if r["method"] == method and r["dataset"] == dataset and r["lead_time"] is None
            }
            a, b = agg[0.1], agg[10.0]
            ratio = f"{b['csi'] / base:.2f}x" if base and b["csi"] is not None else "-"

            def f(v):
                return "-" if v is None else f"{v:.3f}"

            lines.append(
                f"| {method} | {f(a['csi'])} | {f(a['f1'])} | {f(a['bias'])} | {f(b['csi'])} | {f(b['f1'])} | "
                f"{f(b['pod'])} | {f(b['far'])} | {f(b['bias'])} | {f(b['ets'])} | "
                f"{f(_window(rows, method, dataset, 10.0))} | {ratio} |"
            )
        lines.append("")
    return "\n".join(lines)
