"""Evaluation on the held-out test runs (and on an archive from a seed never used in training), through
``engine.verify``: per lead time and aggregated, for every trained method and the raw NWP."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
import torch

from engine.data.atomic import atomic_path, atomic_write_bytes
from engine.data.catalog import Catalog
from engine.data.demo import generate
from engine.errors import DataError
from engine.inference import predict_probabilities
from engine.model.weights import load_model
from engine.normalise import NormStats, normalise, stack_channels
from engine.predict import pick_device
from engine.verify.case import event_probability
from engine.verify.categorical import (
    TABLE_KEYS,
    categorical_scores,
    contingency_events,
    sum_tables,
)
from engine.verify.report import score_folder
from training.config import HELDOUT, HELDOUT_SEED, THRESHOLDS, TrainConfig
from training.fingerprint import fingerprint, is_listing
from training.pretrain import pretraining_data, unlabelled_read
from training.provenance import SEEN, seen_in_pretraining, unseen
from training.questions import compare_all
from training.report import render
from training.store import Store

SCORES = ("csi", "pod", "far", "bias", "f1", "ets")
PER_METHOD = ("decision_thresholds", "validation_csi", "run_tables", "heldout_run_tables", "trained_on")
LEAD_TABLES = "evaluation_leads.npz"  # per-run, per-lead val-tuned tables beside evaluation.json (training leadtime)


def _rows(method: str, dataset: str, per_lead: dict[float, dict], leads: list[int], decision: str) -> list[dict]:
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
                    "decision": decision,
                    "threshold": thr,
                    "lead_time": lead,
                    **t,
                    **{k: (None if not np.isfinite(s[k]) else round(float(s[k]), 5)) for k in SCORES},
                }
            )
    return rows


TAUS = tuple(round(float(t), 2) for t in np.arange(0.05, 0.96, 0.05))
ARGMAX = {0.1: None, 10.0: None}


def _decide(probs: np.ndarray, threshold: float, tau: float | None) -> np.ndarray:
    """Event yes/no: the most likely class reaches the event's class (tau None), or P(event) >= tau."""
    if tau is None:
        return probs.argmax(axis=1) >= (1 if threshold == 0.1 else 2)
    return event_probability(probs, threshold) >= tau


def store_predictions(
    model: torch.nn.Module,
    store: Store,
    runs: list[str],
    device: torch.device | str = "cpu",
    probabilities: Callable[[np.ndarray], np.ndarray] | None = None,
):
    """(run, leads, probabilities, observed rain) for each run of the store. ``probabilities`` (normalised inputs
    -> class probabilities) replaces the whole-grid forward pass, e.g. a tiling ``Predictor.probabilities``."""
    samples = store.meta["samples"]
    for run in runs:
        idx = [i for i, s in enumerate(samples) if s["run"] == run]
        x = np.asarray(store.x[idx[0] : idx[-1] + 1], dtype=np.float32)
        probs = probabilities(x) if probabilities else predict_probabilities(model, x, device=device)
        yield run, [samples[i]["lead"] for i in idx], probs, np.asarray(store.y[idx[0] : idx[-1] + 1])


def tune_decisions(
    model: torch.nn.Module,
    store: Store,
    mask: np.ndarray,
    device: torch.device | str = "cpu",
    probabilities: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[dict[float, float | None], dict[float, float]]:
    """The probability threshold per event that maximises CSI on the validation runs (never the test runs), and
    that CSI (what a choice between methods may look at without touching the test runs). ``probabilities`` as
    in :func:`store_predictions`."""
    runs = store.runs("val")
    if not runs:
        return dict(ARGMAX), {}
    counts = {thr: {tau: np.zeros(4, dtype=np.int64) for tau in TAUS} for thr in THRESHOLDS}
    for _, _, probs, obs in store_predictions(model, store, runs, device, probabilities):
        valid = np.isfinite(obs) & mask
        for thr in THRESHOLDS:
            with np.errstate(invalid="ignore"):
                o = obs >= thr
            for tau in TAUS:
                t = contingency_events(_decide(probs, thr, tau), o, valid)
                counts[thr][tau] += [int(t[k]) for k in TABLE_KEYS]
    best, best_csi = {}, {}
    for thr in THRESHOLDS:
        csi = {tau: categorical_scores(dict(zip(TABLE_KEYS, c, strict=True)))["csi"] for tau, c in counts[thr].items()}
        best[thr] = max(csi, key=lambda tau: -1.0 if not np.isfinite(csi[tau]) else csi[tau])
        best_csi[thr] = round(float(csi[best[thr]]), 5)
    return best, best_csi


def validation_score(
    model: torch.nn.Module, store: Store, device: torch.device | str = "cpu", events: Sequence[float] = (0.1, 10.0)
) -> float:
    """Mean over ``events`` (mm/h) of the validation CSI at the val-tuned probability thresholds: what early
    stopping looks at. Light rain's CSI is several times heavy rain's and moves more, so the mean over both
    favours light-rain epochs (``results/experiments.md``); ``events=(10.0,)`` judges heavy rain alone."""
    _, csi = tune_decisions(model, store, Catalog(store.meta["archive"]).grid.qpe_mask, device)
    scores = [csi[e] if np.isfinite(csi.get(e, np.nan)) else 0.0 for e in events]
    return float(np.mean(scores)) if csi else 0.0


def event_tables(probs: np.ndarray, obs: np.ndarray, mask: np.ndarray, taus: dict) -> dict[float, dict]:
    valid = np.isfinite(obs) & mask
    with np.errstate(invalid="ignore"):
        return {
            thr: contingency_events(_decide(probs, thr, taus[thr]), obs >= thr, valid, per_leading=True)
            for thr in THRESHOLDS
        }


def _score_model_on_store(
    model, store: Store, runs: list[str], decisions: dict[str, dict], device: torch.device | str = "cpu"
) -> tuple[dict, list[int], dict]:
    """Tables per decision and event summed over runs (per lead time), and the val-tuned tables of each run per
    lead time (``per_run_lead``)."""
    mask = Catalog(store.meta["archive"]).grid.qpe_mask
    tables: dict[str, dict[float, list]] = {d: {thr: [] for thr in THRESHOLDS} for d in decisions}
    leads: list[int] = []
    for _, run_leads, probs, obs in store_predictions(model, store, runs, device):
        leads = run_leads
        for d, taus in decisions.items():
            for thr, t in event_tables(probs, obs, mask, taus).items():
                tables[d][thr].append(t)
    summed = {d: {thr: sum_tables(t) for thr, t in v.items()} for d, v in tables.items()}
    return summed, leads, per_run_lead(tables["val_tuned"])


def per_run_lead(per_run: dict[float, list]) -> dict[str, np.ndarray]:
    """Each run's contingency tables per lead time (event -> one per-lead table per run): event -> (runs, leads,
    4) counts in ``TABLE_KEYS`` order. Summed over lead times they are the unit of the paired bootstrap; summed over
    blocks of lead times, what ``training leadtime`` reports."""
    return {
        f"{thr:g}": np.array([np.stack([np.asarray(t[k]) for k in TABLE_KEYS], axis=-1) for t in tables], np.int64)
        for thr, tables in per_run.items()
    }


def run_totals(lead_tables: dict[str, np.ndarray]) -> dict[str, list[list[int]]]:
    """Each run's table summed over lead times, as ``evaluation.json`` keeps them (``run_tables``)."""
    return {thr: a.sum(axis=1).tolist() for thr, a in lead_tables.items()}


def lead_tables_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / LEAD_TABLES


def write_lead_tables(path: Path, sections: dict[str, tuple[list[int], dict[str, dict[str, np.ndarray]]]]) -> None:
    """Write each dataset's lead times and its methods' per-run, per-lead tables (``per_run_lead``) to one
    compressed ``.npz`` beside ``evaluation.json``, atomically."""
    arrays = {}
    for dataset, (leads, methods) in sections.items():
        arrays[f"{dataset}|leads"] = np.asarray(leads, dtype=np.int64)
        for name, tables in methods.items():
            for thr, a in tables.items():
                arrays[f"{dataset}|{name}|{thr}"] = a.astype(np.int32)  # counts of one run and lead: < 2**31
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def read_lead_tables(path: Path) -> dict[str, tuple[list[int], dict[str, dict[str, np.ndarray]]]]:
    """What ``write_lead_tables`` wrote; empty if there is no such file (results written before it existed)."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read the per-lead tables ({exc}): re-run `python -m training evaluate`", path) from exc
    out: dict[str, tuple[list[int], dict[str, dict[str, np.ndarray]]]] = {}
    for key, a in arrays.items():
        dataset, *rest = key.split("|")
        leads, methods = out.setdefault(dataset, ([], {}))
        if rest == ["leads"]:
            leads.extend(int(v) for v in a)
        else:
            methods.setdefault(rest[0], {})[rest[1]] = a.astype(np.int64)
    return out


def _score_model_on_archive(
    model,
    stats: NormStats,
    cat: Catalog,
    decisions: dict[str, dict],
    leads: list[int],
    inputs: dict | None = None,
    device: torch.device | str = "cpu",
) -> tuple[dict, list[int], dict]:
    """As ``_score_model_on_store``, on ``leads`` of an archive's GRIB/NetCDF (``inputs``: see
    ``archive_predictions``)."""
    tables: dict[str, dict[float, list]] = {d: {thr: [] for thr in THRESHOLDS} for d in decisions}
    for _, _, probs, obs in archive_predictions(model, stats, cat, leads, inputs, device):
        for d, taus in decisions.items():
            for thr, t in event_tables(probs, obs, cat.grid.qpe_mask, taus).items():
                tables[d][thr].append(t)
    summed = {d: {thr: sum_tables(t) for thr, t in v.items()} for d, v in tables.items()}
    return summed, leads, per_run_lead(tables["val_tuned"])


def archive_leads(cat: Catalog, lead_times: tuple[int, int]) -> list[int]:
    """The lead times of the config's range (``data.lead_times``, as the test runs') in an archive; lead 0, the
    analysis, is never scored."""
    lo, hi = lead_times
    have = cat.lead_times(cat.runs()[0])
    if max(have) < hi:
        raise DataError(
            f"lead times reach {max(have)} h, the config scores up to {hi} h: delete it to regenerate", cat.root
        )
    return [ld for ld in have if max(lo, 1) <= ld <= hi]


def archive_predictions(
    model,
    stats: NormStats,
    cat: Catalog,
    leads: list[int],
    inputs: dict | None = None,
    device: torch.device | str = "cpu",
):
    """(run, leads, probabilities, observed rain) for each run of an archive, as ``store_predictions`` for a store.
    ``inputs`` (run -> stacked channels, observations) is filled on first use, so several methods read the
    archive's GRIB once."""
    inputs = {} if inputs is None else inputs
    for run in cat.runs():
        if run not in inputs:
            inputs[run] = (stack_channels(cat.load_run(run, leads)), cat.load_qpe(run, leads).values)
        x, obs = inputs[run]
        yield run, leads, predict_probabilities(model, normalise(x, stats), device=device), obs


def _nwp_rows(cat: Catalog, runs: list[str], dataset: str, leads: list[int]) -> list[dict]:
    result = score_folder(cat, "nwp", runs, leads, THRESHOLDS, n_resamples=10)
    return [
        {
            "method": "raw_nwp",
            "dataset": dataset,
            "decision": "raw",
            "threshold": r["threshold"],
            "lead_time": r["lead_time"],
            **{k: r[k] for k in TABLE_KEYS},
            **{k: r[k] for k in SCORES},
        }
        for r in result["scores"]
    ]


def _kept_nwp_rows(
    path: Path, archives: dict[str, str], runs: dict[str, list[str]], leads: dict[str, list[int]]
) -> list[dict] | None:
    """The raw NWP's rows of the evaluation at ``path`` if it scored the same runs and lead times (per dataset) of
    byte-identical archives (content fingerprints ``test_archive`` and ``heldout_archive``), else None."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = all(old.get(k) == v and not is_listing(v) for k, v in archives.items())
    if not same or old.get("test_runs") != runs["test"] or old.get("heldout_runs") != runs[HELDOUT]:
        return None
    kept = [r for r in old["rows"] if r["method"] == "raw_nwp"]
    for dataset, wanted in leads.items():
        if {r["lead_time"] for r in kept if r["dataset"] == dataset} != {*wanted, None}:
            return None
    return kept


def heldout_catalog(cfg: TrainConfig, progress: bool = True, runs: int | None = None) -> Catalog:
    """The archive of ``runs`` (default: the config's ``heldout_runs``) runs from a generator seed never used in
    training, generated on first use."""
    runs = runs or cfg.heldout_runs
    path = cfg.heldout_archive(runs)
    if not (path / "archive.json").exists():
        last = cfg.data.lead_times[1]
        generate(path, runs=runs, seed=HELDOUT_SEED, leads=last, progress=progress, workers=cfg.threads)
    return Catalog(path)


def evaluate(
    cfg: TrainConfig,
    methods: list[str],
    weights: dict[str, Path],
    progress: bool = True,
    heldout_runs: int | None = None,
    merge: Collection[str] = (),
    device: torch.device | str | None = None,
) -> dict:
    """Score ``methods`` on the test runs and on ``heldout_runs`` (default: the config's) runs generated from a
    seed never used in training, and write ``evaluation.json`` + ``README.md``. Results already in
    ``evaluation.json`` (same test runs) for the methods named in ``merge`` are kept, so one method can be
    re-scored alone (the raw NWP's too, while both archives are byte for byte those it was scored on); results of
    methods named in neither list are dropped. The models run on ``device`` (default: the GPU if one is visible)."""
    device = pick_device(None if device is None else str(device))
    store = Store(cfg.data.store)
    store.require_current(progress)
    test_runs = store.runs("test")
    torch.set_num_threads(cfg.threads)
    archive = Catalog(cfg.data.archive)
    # A fresh archive from a seed never used in training: the methods and the raw NWP on a season of its own.
    cat = heldout_catalog(cfg, progress, heldout_runs)
    heldout = cat.root
    leads = archive_leads(cat, cfg.data.lead_times)
    archives = {"test_archive": store.meta["fingerprint"], "heldout_archive": fingerprint(heldout, progress)}
    results = Path(cfg.results_dir)
    # The raw NWP depends on nothing but the two archives: a one-method re-score keeps its rows if they are unchanged.
    nwp_leads = {"test": archive_leads(archive, cfg.data.lead_times), HELDOUT: leads}
    runs = {"test": test_runs, HELDOUT: cat.runs()}
    rows = _kept_nwp_rows(results / "evaluation.json", archives, runs, nwp_leads) if merge else None
    if rows is None:
        rows = [r for d, c in (("test", archive), (HELDOUT, cat)) for r in _nwp_rows(c, runs[d], d, nwp_leads[d])]
    mask = archive.grid.qpe_mask
    decisions_by_method, val_csi = {}, {}
    test_lead_tables: dict[str, dict[str, np.ndarray]] = {}
    test_leads: list[int] = []
    trained_on: dict[str, str | None] = {}
    read_unlabelled = [unlabelled_read(pretraining_data(cfg))]
    for name in methods:
        model, manifest = load_model(weights[name])
        trained_on[name] = manifest.get("data_fingerprint")
        read_unlabelled.append((manifest.get("unlabelled_fingerprint"), manifest.get("unlabelled_runs") or []))
        taus, val_csi[name] = tune_decisions(model, store, mask, device)
        decisions_by_method[name] = taus
        decisions = {"argmax": ARGMAX, "val_tuned": taus}
        tables, test_leads, test_lead_tables[name] = _score_model_on_store(model, store, test_runs, decisions, device)
        for d in decisions:
            rows += _rows(name, "test", tables[d], test_leads, d)
        if progress:
            agg = [r for r in rows if r["method"] == name and r["lead_time"] is None]
            print(
                f"evaluated {name} (val-tuned P thresholds {taus}): "
                + ", ".join(f"{r['decision']} CSI@{r['threshold']:g} {r['csi']}" for r in agg)
            )
    # Every method, the label-share runs included: the scarce-label question needs the held-out runs' power too.
    inputs: dict = {}
    heldout_lead_tables: dict[str, dict[str, np.ndarray]] = {}
    for name in methods:
        model, manifest = load_model(weights[name])
        decisions = {"argmax": ARGMAX, "val_tuned": decisions_by_method[name]}
        stats = NormStats.from_dict(manifest["normalisation"])
        tables, leads, heldout_lead_tables[name] = _score_model_on_archive(
            model, stats, cat, decisions, leads, inputs, device
        )
        for d in decisions:
            rows += _rows(name, HELDOUT, tables[d], leads, d)
        if progress:
            print(f"evaluated {name} on {HELDOUT} ({len(cat.runs())} runs)")
    result = {
        "config": cfg.source,
        "test_runs": test_runs,
        "val_runs": store.runs("val"),
        "train_runs": store.runs("train"),
        "decision_thresholds": {m: {f"{k:g}": v for k, v in t.items()} for m, t in decisions_by_method.items()},
        "validation_csi": {m: {f"{k:g}": v for k, v in t.items()} for m, t in val_csi.items()},
        "heldout_runs": cat.runs(),
        SEEN: seen_in_pretraining(read_unlabelled, archives["heldout_archive"]),
        "run_tables": {m: run_totals(t) for m, t in test_lead_tables.items()},
        "heldout_run_tables": {m: run_totals(t) for m, t in heldout_lead_tables.items()},
        **archives,
        "trained_on": trained_on,
        "rows": rows,
    }
    sections = {"test": (test_leads, test_lead_tables), HELDOUT: (leads, heldout_lead_tables)}
    if merge:
        result = _merged(results / "evaluation.json", result, set(merge))
        sections = _merged_lead_tables(lead_tables_path(results), sections, result)
    result = in_config_order(result, ["raw_nwp", *cfg.methods, *cfg.ablations])
    # Paired tests on the held-out archive leave out the runs the pre-training read (none for most configs).
    heldout_tables = result.get("heldout_run_tables", {})
    unseen_heldout = {m: unseen(result["heldout_runs"], t, result[SEEN])[1] for m, t in heldout_tables.items()}
    result["comparisons"] = [
        {"dataset": dataset, **c}
        for dataset, tables in (("test", result.get("run_tables", {})), (HELDOUT, unseen_heldout))
        for c in compare_all(tables, cfg.ship, result.get("trained_on", {}))
    ]
    write_lead_tables(lead_tables_path(results), sections)
    atomic_write_bytes(results / "evaluation.json", (json.dumps(result, indent=1) + "\n").encode())
    atomic_write_bytes(results / "README.md", render(result).encode())
    return result


def _merged_lead_tables(path: Path, new: dict, result: dict) -> dict:
    """``new``'s per-lead tables plus those in the file at ``path`` of the methods ``result`` kept from the
    earlier evaluation (same lead times only)."""
    old = read_lead_tables(path)
    out = {}
    for dataset, key in (("test", "run_tables"), (HELDOUT, "heldout_run_tables")):
        leads, methods = new[dataset]
        old_leads, old_methods = old.get(dataset, ([], {}))
        kept = {m: old_methods[m] for m in result.get(key, {}) if m not in methods and m in old_methods}
        out[dataset] = (leads, {**kept, **methods} if old_leads == leads else methods)
    return out


def _merged(path: Path, new: dict, keep: set[str]) -> dict:
    """``new`` plus the methods in ``keep`` of the evaluation at ``path`` that ``new`` did not score (same test
    and held-out runs only)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return new
    if old.get("test_runs") != new["test_runs"] or old.get("heldout_runs") != new["heldout_runs"]:
        return new
    fresh = set(new["run_tables"]) | {"raw_nwp"}
    kept = [m for m in old.get("decision_thresholds", {}) if m not in fresh and m in keep]
    merged = dict(new)
    if kept:  # what the kept networks' pre-training read stays recorded, whatever the store holds now
        merged[SEEN] = sorted(set(old.get(SEEN, [])) | set(new[SEEN]))
    for key in PER_METHOD:
        merged[key] = {**{m: old.get(key, {})[m] for m in kept if m in old.get(key, {})}, **new[key]}
    nwp = [r for r in new["rows"] if r["method"] == "raw_nwp"]
    merged["rows"] = nwp + [r for r in old["rows"] if r["method"] in kept] + [r for r in new["rows"] if r not in nwp]
    return merged


def in_config_order(result: dict, order: Sequence[str]) -> dict:
    """Rows and per-method tables in ``order`` (methods it does not name last), whatever order they were scored
    in: a method re-scored alone with ``--method`` keeps its place in the tables."""
    rank = {m: i for i, m in enumerate(order)}

    def key(method: str) -> int:
        return rank.get(method, len(rank))

    out = dict(result, rows=sorted(result["rows"], key=lambda r: key(r["method"])))  # stable: leads stay in order
    for name in PER_METHOD:
        if name in result:
            out[name] = dict(sorted(result[name].items(), key=lambda kv: key(kv[0])))
    return out
