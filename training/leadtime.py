"""Skill by lead time (``method.md``, open question 3: how skill and the pre-training benefit change with lead
time). Each method's CSI per block of lead times, at the val-tuned decisions ``evaluate`` chose, and every paired
question ``evaluate`` tests over all lead times, asked again per block with the same run bootstrap.

``python -m training leadtime --config FILE [--method ...] [--dataset heldout_seed2024|test] [--hours 6]``
writes ``leadtime.json`` and ``leadtime.md`` beside the config's ``evaluation.json``, from the per-run, per-lead
tables ``evaluate`` keeps beside it (``evaluation_leads.npz``): no network runs again. Methods scored before those
tables existed are scored again from their weights, which must be current: a method's block tables summed over the
blocks must give back its tables in ``evaluation.json``, or the weights changed since.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.data.atomic import atomic_write_bytes
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.weights import load_model
from engine.normalise import NormStats
from engine.predict import pick_device
from training.compare import RUN_KEYS, network_csi
from training.config import HELDOUT, THRESHOLDS, TrainConfig
from training.evaluate import (
    archive_leads,
    archive_predictions,
    event_tables,
    lead_tables_path,
    per_run_lead,
    read_lead_tables,
    store_predictions,
)
from training.provenance import SAME, UNKNOWN
from training.questions import compare_all, pooled_repeats
from training.report import window_csi
from training.store import Store

# A run's tables: event threshold ("0.1", "10") -> per run -> per block -> [hits, misses, false alarms, cn].
BlockTables = dict[str, list[list[list[int]]]]


def lead_blocks(leads: Sequence[int], hours: int) -> list[tuple[int, int]]:
    """Blocks of ``hours`` lead hours that cover ``leads`` (1-6, 7-12, ... for hourly leads 1-48 and 6 h), first
    and last lead of each; a block holds at least one of ``leads``."""
    if hours < 1:
        raise ValueError(f"a block must span at least one hour, not {hours}")
    starts = sorted({(lead - 1) // hours for lead in leads})
    return [(s * hours + 1, (s + 1) * hours) for s in starts]


def _block_index(leads: Sequence[int], blocks: Sequence[tuple[int, int]]) -> np.ndarray:
    return np.array([next(i for i, (lo, hi) in enumerate(blocks) if lo <= lead <= hi) for lead in leads])


def run_lead_tables(
    predictions: Iterator[tuple[str, list[int], np.ndarray, np.ndarray]],
    mask: np.ndarray,
    taus: dict[float, float | None],
) -> dict[str, np.ndarray]:
    """Per event: each run's contingency tables per lead time at the decisions ``taus``, (runs, leads, 4)."""
    per_run: dict[float, list] = {thr: [] for thr in THRESHOLDS}
    for _, _, probs, obs in predictions:
        for thr, t in event_tables(probs, obs, mask, taus).items():
            per_run[thr].append(t)
    return per_run_lead(per_run)


def block_tables(
    lead_tables: dict[str, np.ndarray], leads: Sequence[int], blocks: Sequence[tuple[int, int]]
) -> BlockTables:
    """Per-lead tables (``run_lead_tables``) summed within each block of lead times."""
    where = _block_index(leads, blocks)
    out: BlockTables = {}
    for thr, a in lead_tables.items():
        per_block = np.zeros((a.shape[0], len(blocks), 4), dtype=np.int64)
        np.add.at(per_block, (slice(None), where), a)
        out[thr] = per_block.tolist()
    return out


def _csi(tables: Sequence[Sequence[int]]) -> float | None:
    v = network_csi(tables)
    return None if not np.isfinite(v) else round(v, 4)


def _nwp_blocks(evaluation: dict, dataset: str, blocks: Sequence[tuple[int, int]]) -> dict[str, list]:
    """The raw NWP's CSI per block, from the per-lead tables ``evaluate`` wrote (its tables summed over runs)."""
    rows = evaluation["rows"]
    return {
        f"{thr:g}": [window_csi(rows, "raw_nwp", dataset, thr, "raw", lo, hi) for lo, hi in blocks]
        for thr in THRESHOLDS
    }


def _check_against_evaluation(name: str, tables: BlockTables, evaluation: dict, dataset: str, path: Path) -> None:
    """The block tables of ``name`` summed over blocks must be its per-run tables in ``evaluation.json``."""
    expected = evaluation[RUN_KEYS[dataset][1]][name]
    for thr, per_run in tables.items():
        summed = [np.sum(blocks, axis=0).tolist() for blocks in per_run]
        if summed != expected[thr]:
            raise DataError(
                f"{name}: its weights do not give the tables {path} holds for it on {dataset} at {thr} mm/h: "
                "re-run `python -m training evaluate` for it first"
            )


def leadtime(
    cfg: TrainConfig,
    methods: list[str],
    weights: dict[str, Path],
    dataset: str = HELDOUT,
    hours: int = 6,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> dict:
    """Score ``methods`` per block of ``hours`` lead hours on ``dataset`` and write ``leadtime.json`` and
    ``leadtime.md`` in the config's results folder (the other dataset's section, if any, is kept)."""
    results = Path(cfg.results_dir)
    path = results / "evaluation.json"
    try:
        evaluation = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror}): run `python -m training evaluate` first") from exc
    if dataset not in RUN_KEYS:
        raise DataError(f"unknown dataset {dataset!r}: one of {sorted(RUN_KEYS)}")
    missing = [m for m in methods if m not in evaluation.get(RUN_KEYS[dataset][1], {})]
    if missing:
        raise DataError(f"{path} has not scored {missing} on {dataset}: run `python -m training evaluate` first")
    device = pick_device(None if device is None else str(device))
    torch.set_num_threads(cfg.threads)
    runs = evaluation[RUN_KEYS[dataset][0]]
    # What `evaluate` scored per lead time, if it kept it: then no weights, archive or store are read at all.
    cached_leads, cached = read_lead_tables(lead_tables_path(results)).get(dataset, ([], {}))
    cat: Catalog | None = None
    store: Store | None = None
    if all(m in cached for m in methods):
        leads = cached_leads
    elif dataset == HELDOUT:
        cat = Catalog(cfg.heldout_archive(len(runs)))
        leads = archive_leads(cat, cfg.data.lead_times)
    else:
        store = Store(cfg.data.store)
        cat = Catalog(store.meta["archive"])
        leads = sorted({s["lead"] for s in store.meta["samples"]})
    blocks = lead_blocks(leads, hours)
    inputs: dict = {}

    def infer(name: str) -> dict[str, np.ndarray]:
        """``name``'s per-lead tables from its weights, at the decisions ``evaluation.json`` holds for it."""
        if name not in weights:
            raise DataError(f"{name}: no per-lead tables from `evaluate` and no weights to score it again", path)
        model, manifest = load_model(weights[name])
        taus = {float(k): v for k, v in evaluation["decision_thresholds"][name].items()}
        assert cat is not None
        if store is None:
            if cat.runs() != runs:
                raise DataError(f"{cat.root}: its runs are not the {len(runs)} {path} scored on {dataset}")
            stats = NormStats.from_dict(manifest["normalisation"])
            predictions = archive_predictions(model, stats, cat, leads, inputs, device)
        else:
            predictions = store_predictions(model, store, runs, device)
        bar = tqdm(predictions, total=len(runs), desc=f"{name} on {dataset}", unit="run", disable=not progress)
        return run_lead_tables(bar, cat.grid.qpe_mask, taus)

    tables: dict[str, BlockTables] = {}
    for name in methods:
        # Results older than `evaluate`'s per-lead tables are scored again from the weights.
        per_lead = cached[name] if name in cached and cached_leads == leads else infer(name)
        tables[name] = block_tables(per_lead, leads, blocks)
        _check_against_evaluation(name, tables[name], evaluation, dataset, path)
        if progress:
            per_block = _block_csi({name: tables[name]})[name]["10"]
            print(f"{name}: CSI at 10 mm/h per block of {hours} h: " + ", ".join(map(_cell, per_block)))
    section = {
        "runs": runs,
        "hours": hours,
        "blocks": [list(b) for b in blocks],
        "raw_nwp": _nwp_blocks(evaluation, dataset, blocks),
        "tables": tables,
        "comparisons": _comparisons(tables, blocks, cfg.ship, evaluation.get("trained_on", {})),
    }
    out_path = results / "leadtime.json"
    try:
        result = json.loads(out_path.read_text())
    except (OSError, ValueError):
        result = {}
    result = {"config": cfg.source, **{k: v for k, v in result.items() if k in RUN_KEYS}, dataset: section}
    atomic_write_bytes(out_path, (json.dumps(result, separators=(",", ":")) + "\n").encode())
    atomic_write_bytes(results / "leadtime.md", render(result).encode())
    return result


def _block_csi(tables: dict[str, BlockTables]) -> dict[str, dict[str, list[float | None]]]:
    """CSI per method, event and block, with the pools over seeds and draws (``pooled_repeats``) as methods."""
    first = next(iter(tables.values()))
    n_blocks = len(next(iter(first.values()))[0])
    per_block = [_in_block(tables, b) for b in range(n_blocks)]
    pooled = [{**t, **pooled_repeats(t), **pooled_repeats(t, "seed")} for t in per_block]
    return {name: {thr: [_csi(p[name][thr]) for p in pooled] for thr in first} for name in pooled[0]}


def _in_block(tables: dict[str, BlockTables], b: int) -> dict[str, dict[str, list[list[int]]]]:
    """Block ``b``'s per-run tables of each method, shaped as ``evaluate``'s ``run_tables``."""
    return {m: {thr: [run[b] for run in per_run] for thr, per_run in t.items()} for m, t in tables.items()}


def _comparisons(
    tables: dict[str, BlockTables], blocks: Sequence[tuple[int, int]], ship: str, trained_on: Mapping[str, str | None]
) -> list[dict]:
    """``evaluate``'s paired questions (pools over seeds and draws included), one block at a time."""
    out = []
    for b, (lo, hi) in enumerate(blocks):
        out += [{"leads": [lo, hi], **c} for c in compare_all(_in_block(tables, b), ship, trained_on)]
    return out


def render(result: dict) -> str:
    lines = [
        "# Skill by lead time",
        "",
        f"Written by `python -m training leadtime --config {result['config']}`.",
        "CSI per block of lead times at each method's val-tuned decisions (those of `evaluation.json`), contingency",
        "tables summed over the block's lead times and all runs before the ratio; `X, N seeds` (`draws`) sums the",
        "tables of X and its `_seedN` (`_drawN`) twins. The paired differences repeat `evaluation.json`'s questions",
        "per block: CSI(A) - CSI(B) and its 95 % paired bootstrap interval over runs.",
        "",
    ]
    for dataset in (d for d in (HELDOUT, "test") if d in result):  # the long held-out season first: more power
        section = result[dataset]
        heads = [f"{lo}-{hi} h" for lo, hi in section["blocks"]]
        table_head = ["| method | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(heads)]
        csi = _block_csi(section["tables"])
        for thr in ("10", "0.1"):
            n = len(section["runs"])
            lines += [f"## {dataset} ({n} run{'s' * (n != 1)}): CSI at {thr} mm/h", "", *table_head]
            lines.append("| raw_nwp | " + " | ".join(_cell(v) for v in section["raw_nwp"][thr]) + " |")
            for name, per_block in csi.items():
                lines.append(f"| {name} | " + " | ".join(_cell(v) for v in per_block[thr]) + " |")
            lines.append("")
        for thr in (10.0, 0.1):
            lines += [f"## {dataset}: paired differences at {thr:g} mm/h", ""]
            lines += ["| A - B | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(heads)]
            cells: dict[tuple[str, str, str], list[str]] = {}
            for c in section["comparisons"]:
                if c["threshold"] == thr:
                    cells.setdefault((c["a"], c["b"], _archive_note(c)), []).append(
                        f"{c['difference']:+.3f} ({c['low']:+.3f} to {c['high']:+.3f})"
                    )
            lines += [f"| {a} - {b}{note} | " + " | ".join(v) + " |" for (a, b, note), v in cells.items()]
            lines.append("")
    return "\n".join(lines)


def _archive_note(comparison: dict) -> str:
    """`` (trained on 3b7b1ff1 vs 778d44bc)`` for a pair whose networks learnt from different archives."""
    archives = comparison.get("archives", SAME)
    return "" if archives in (SAME, UNKNOWN) else f" (trained on {archives})"


def _cell(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
