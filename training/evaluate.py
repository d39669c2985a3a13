"""Evaluation on the held-out test runs (and on an archive from a seed never used in training), through
``engine.verify``: per lead time and aggregated, for every trained method and the raw NWP."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Collection, Mapping, Sequence
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
    paired_bootstrap_difference,
    sum_tables,
)
from engine.verify.report import score_folder
from training.config import HELDOUT, HELDOUT_SEED, TrainConfig
from training.fingerprint import fingerprint, is_listing, short
from training.methods import (
    config_length_twin,
    last_epoch_twin,
    protocol,
    stopping_rule,
    without_protocol,
)
from training.provenance import UNKNOWN, by_archive, comparison_archives
from training.store import Store

THRESHOLDS = (0.1, 10.0)
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


def store_predictions(model: torch.nn.Module, store: Store, runs: list[str], device: torch.device | str = "cpu"):
    """(run, leads, probabilities, observed rain) for each run of the store."""
    samples = store.meta["samples"]
    for run in runs:
        idx = [i for i, s in enumerate(samples) if s["run"] == run]
        x = np.asarray(store.x[idx[0] : idx[-1] + 1], dtype=np.float32)
        probs = predict_probabilities(model, x, device=device)
        yield run, [samples[i]["lead"] for i in idx], probs, np.asarray(store.y[idx[0] : idx[-1] + 1])


def tune_decisions(
    model: torch.nn.Module, store: Store, mask: np.ndarray, device: torch.device | str = "cpu"
) -> tuple[dict[float, float | None], dict[float, float]]:
    """The probability threshold per event that maximises CSI on the validation runs (never the test runs), and
    that CSI (what a choice between methods may look at without touching the test runs)."""
    runs = store.runs("val")
    if not runs:
        return dict(ARGMAX), {}
    counts = {thr: {tau: np.zeros(4, dtype=np.int64) for tau in TAUS} for thr in THRESHOLDS}
    for _, _, probs, obs in store_predictions(model, store, runs, device):
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


def comparison_pairs(methods: list[str], ship: str) -> list[tuple[str, str]]:
    """The questions the evaluation answers with a paired test: the shipped method against the U-Net, against
    the same network from scratch (and that network against the U-Net: the architecture alone) and against its
    one-hot twin, also pooled over training seeds; the shipped method against each of its ablations with all
    labels (loss, masking ratio, frozen encoder ...); a longer pre-training (``_ptNN``) against the config's with
    the same labels; pre-trained against scratch and against the U-Net at each labelled share (the same labelled
    runs: the same ``_drawN``), and with all draws of a share pooled (pooled names from ``pooled_repeats``).
    Methods fine-tuned otherwise than the config says (early stopping ``_valbest``, ``_valbest10``; ``_ftNN``
    epochs) are paired among methods of the same ``protocol`` in the same way, and each with its twin that kept
    the last epoch (ran the config's epochs)."""
    pairs = []
    for proto in dict.fromkeys(["", *map(protocol, methods)]):
        plain = {without_protocol(m): m for m in methods if protocol(m) == proto}
        pairs += [(plain[a], plain[b]) for a, b in _pairs(list(plain), without_protocol(ship)) if {a, b} <= set(plain)]
    pairs += [(m, last_epoch_twin(m)) for m in methods if stopping_rule(m)]
    pairs += [(m, config_length_twin(m)) for m in methods]
    present = set(methods)
    return [p for p in dict.fromkeys(pairs) if p[0] in present and p[1] in present and p[0] != p[1]]


def _pairs(methods: list[str], ship: str) -> list[tuple[str, str]]:
    """``comparison_pairs`` among methods of one fine-tuning protocol (the names without ``_valbest``)."""
    # the network without pre-training against the U-Net: what the architecture alone is worth
    pairs = [(ship, "unet"), (ship, "scratch"), ("scratch", "unet"), ("pretrained_continuous", "pretrained_onehot")]
    pairs += [(ship, m) for m in methods if m.startswith("pretrained_") and not re.search(r"pct|_seed|_draw|, ", m)]
    for m in methods:
        if seeds := re.fullmatch(rf"{re.escape(ship)}(, \d+ seeds)", m):
            pairs += [(m, f"unet{seeds.group(1)}"), (m, f"scratch{seeds.group(1)}")]
            pairs.append((f"scratch{seeds.group(1)}", f"unet{seeds.group(1)}"))
        if m.startswith("pretrained") and (shorter := re.sub(r"_pt\d+", "", m)) not in (m, ship):
            pairs.append((m, shorter))  # longer pre-training against the config's, the labels otherwise the same
        share = re.search(r"_(\d+)pct", m)
        if not (m.startswith("pretrained") and share):
            continue
        pooled, draw = re.search(r", \d+ draws$", m), re.search(r"_draw\d+", m)
        same_runs = pooled.group(0) if pooled else draw.group(0) if draw else ""
        # against scratch (what pre-training is worth) and the U-Net (the baseline) on the same labelled runs
        pairs += [(m, f"{other}_{share.group(1)}pct{same_runs}") for other in ("scratch", "unet")]
    return pairs


def pooled_repeats(run_tables: dict[str, dict], kind: str = "draw") -> dict[str, dict]:
    """``X`` and its ``X_drawN`` twins (other random choices of the labelled runs; ``kind="seed"``: ``X_seedN``,
    other training seeds) as one method ``X, N draws`` (``seeds``): per test run, the twins' contingency tables
    summed, so a paired test over runs compares the methods averaged over which runs were labelled (over the luck
    of one training run)."""
    groups: dict[str, list[str]] = {}
    for m in run_tables:
        groups.setdefault(re.sub(rf"_{kind}\d+", "", m), []).append(m)
    out = {}
    for base, members in groups.items():
        if len(members) < 2 or base not in members:
            continue
        out[f"{base}, {len(members)} {kind}s"] = {
            thr: [
                [sum(col) for col in zip(*per_run, strict=True)]
                for per_run in zip(*(run_tables[m][thr] for m in members), strict=True)
            ]
            for thr in run_tables[base]
        }
    return out


def compare(run_tables: dict[str, dict], pairs: list[tuple[str, str]]) -> list[dict]:
    """Paired bootstrap over test runs of the CSI difference, per pair and event threshold."""
    out = []
    for a, b in pairs:
        for thr in THRESHOLDS:
            ta = [dict(zip(TABLE_KEYS, c, strict=True)) for c in run_tables[a][f"{thr:g}"]]
            tb = [dict(zip(TABLE_KEYS, c, strict=True)) for c in run_tables[b][f"{thr:g}"]]
            d = paired_bootstrap_difference(ta, tb, "csi")
            out.append({"a": a, "b": b, "threshold": thr, **{k: round(v, 4) for k, v in d.items()}})
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
    methods named in neither list are dropped. The models run on ``device``
    (default: the GPU if one is visible)."""
    device = pick_device(None if device is None else str(device))
    store = Store(cfg.data.store)
    store.require_current(progress)
    test_runs = store.runs("test")
    torch.set_num_threads(cfg.threads)
    archive = Catalog(cfg.data.archive)
    # A fresh archive from a seed never used in training: the methods and the raw NWP on a season of its own.
    n_heldout = heldout_runs or cfg.heldout_runs
    heldout = cfg.out_dir / f"heldout_seed{HELDOUT_SEED}_{n_heldout}runs"
    if not (heldout / "archive.json").exists():
        last = cfg.data.lead_times[1]
        generate(heldout, runs=n_heldout, seed=HELDOUT_SEED, leads=last, progress=progress, workers=cfg.threads)
    cat = Catalog(heldout)
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
    for name in methods:
        model, manifest = load_model(weights[name])
        trained_on[name] = manifest.get("data_fingerprint")
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
    result["comparisons"] = [
        {"dataset": dataset, **c}
        for dataset, key in (("test", "run_tables"), (HELDOUT, "heldout_run_tables"))
        for c in compare_all(result.get(key, {}), cfg.ship, result.get("trained_on", {}))
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


def compare_all(run_tables: dict[str, dict], ship: str, trained_on: Mapping[str, str | None]) -> list[dict]:
    """Every paired question (``comparison_pairs``) the methods in ``run_tables`` and their pools can answer, each
    labelled with whether its two sides learnt from the same training archive (``training.provenance``)."""
    pooled = {**pooled_repeats(run_tables), **pooled_repeats(run_tables, "seed")}
    pairs = comparison_pairs([*run_tables, *pooled], ship)
    return [
        {**c, "archives": comparison_archives(c["a"], c["b"], trained_on)}
        for c in compare({**run_tables, **pooled}, pairs)
    ]


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


def _decision_ok(r: dict, decision: str) -> bool:
    return r["decision"] == decision or r["method"] == "raw_nwp"


def headline(rows: list[dict], method: str, dataset: str = "test", decision: str = "val_tuned") -> dict:
    out = {}
    for r in rows:
        if r["method"] == method and r["dataset"] == dataset and r["lead_time"] is None and _decision_ok(r, decision):
            out[f"csi_{r['threshold']:g}"] = r["csi"]
            out[f"f1_{r['threshold']:g}"] = r["f1"]
            out[f"bias_{r['threshold']:g}"] = r["bias"]
    return out


def window_csi(rows: list[dict], method: str, dataset: str, thr: float, decision: str, lo: int = 25, hi: int = 30):
    """CSI of ``method`` over lead times ``lo``-``hi`` h: its per-lead tables summed before the ratio."""
    sel = [
        r
        for r in rows
        if r["method"] == method
        and _decision_ok(r, decision)
        and r["dataset"] == dataset
        and r["threshold"] == thr
        and r["lead_time"] is not None
        and lo <= r["lead_time"] <= hi
    ]
    t = {k: sum(r[k] for r in sel) for k in TABLE_KEYS}
    v = categorical_scores(t)["csi"]
    return None if not np.isfinite(v) else round(float(v), 4)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# Evaluation",
        "",
        f"Written by `python -m training evaluate --config {result['config']}` (every lead time is in",
        "`evaluation.json`). Contingency tables are summed over all test runs, lead times 1-48 h and QPE-valid",
        "pixels before the ratio. Model decisions: **val-tuned** = the event is forecast where P(event) reaches the",
        "probability threshold that maximised CSI on the validation runs (never the test runs); **argmax** = the most",
        "likely class. The raw NWP is its rain field against the same thresholds.",
        "",
        f"Test runs: {', '.join(result['test_runs'])}",
        "",
        f"Held-out runs ({HELDOUT}): {', '.join(result.get('heldout_runs', []))}",
        "",
        "Val-tuned probability thresholds: "
        + "; ".join(
            f"{m}: " + ", ".join(f"{k} mm/h -> {v}" for k, v in t.items())
            for m, t in result.get("decision_thresholds", {}).items()
        ),
        "",
        "Validation CSI at those thresholds (the shipped method is chosen on these, never on the test runs): "
        + "; ".join(
            f"{m}: " + ", ".join(f"{v} at {k} mm/h" for k, v in t.items())
            for m, t in result.get("validation_csi", {}).items()
        ),
        "",
        *_archives(result),
    ]
    for dataset in sorted({r["dataset"] for r in rows}, key=lambda d: d != "test"):
        for decision in ("val_tuned", "argmax"):
            lines += [
                f"## {dataset}, {decision.replace('_', '-')} decisions",
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
                    if r["method"] == method
                    and r["dataset"] == dataset
                    and r["lead_time"] is None
                    and _decision_ok(r, decision)
                }
                a, b = agg[0.1], agg[10.0]
                ratio = f"{b['csi'] / base:.2f}x" if base and b["csi"] is not None else "-"
                lines.append(
                    f"| {method} | {_fmt(a['csi'])} | {_fmt(a['f1'])} | {_fmt(a['bias'])} | {_fmt(b['csi'])} | "
                    f"{_fmt(b['f1'])} | {_fmt(b['pod'])} | {_fmt(b['far'])} | {_fmt(b['bias'])} | {_fmt(b['ets'])} | "
                    f"{_fmt(window_csi(rows, method, dataset, 10.0, decision))} | {ratio} |"
                )
            lines.append("")
    return "\n".join(lines + _label_share(rows) + _seed_spread(rows) + _comparisons(result.get("comparisons", [])))


def _archives(result: dict) -> list[str]:
    """Which training archive each network learnt from, when the evaluation recorded it."""
    trained_on = result.get("trained_on")
    if not trained_on:
        return []
    test = result.get("test_archive")
    groups = [
        f"{'not recorded' if fp is None else f'`{short(fp)}`'}"
        + (" (the archive the latest evaluation read its test runs from)" if fp is not None and fp == test else "")
        + f": {', '.join(methods)}"
        for fp, methods in by_archive(trained_on).items()
    ]
    lines = ["Training archive of each network (the fingerprint in its manifest): " + "; ".join(groups) + "."]
    if len(by_archive(trained_on)) > 1:
        lines += [
            "",
            "Networks trained on different archives differ by about one training seed's luck even where the",
            "archives differ only at rounding level (experiments.md), so a comparison across archives (the",
            "`training archives` column below) measures the archive as well as the method.",
        ]
    return [*lines, ""]


def _comparisons(comparisons: list[dict]) -> list[str]:
    """One table of paired differences per dataset (rows without a dataset predate the held-out tests: test)."""
    lines: list[str] = []
    for dataset in dict.fromkeys(c.get("dataset", "test") for c in comparisons):
        runs = "test runs" if dataset == "test" else f"{dataset} runs (a generator seed never used in training)"
        lines += [
            f"## Are the differences real? ({runs}, val-tuned, paired bootstrap over runs)",
            "",
            "CSI(A) - CSI(B) on all those runs, its 95 % interval from 2000 resamples of the runs (the same draw",
            "for both, Hamill 1999), and the share of resamples in which A scores higher.",
            "",
            "| A | B | event | CSI(A) - CSI(B) | 95 % interval | P(A better) | training archives |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in comparisons:
            if c.get("dataset", "test") == dataset:
                lines.append(
                    f"| {c['a']} | {c['b']} | >= {c['threshold']:g} mm/h | {c['difference']:+.3f} | "
                    f"{c['low']:+.3f} to {c['high']:+.3f} | {c['p_better']:.2f} | {c.get('archives', UNKNOWN)} |"
                )
        lines.append("")
    return lines


def _test_aggregates(rows: list[dict]) -> list[dict]:
    """The rows the ablation tables read: test runs, all lead times together, val-tuned decisions."""
    return [r for r in rows if r["dataset"] == "test" and r["lead_time"] is None and r["decision"] == "val_tuned"]


def _label_share(rows: list[dict]) -> list[str]:
    """CSI against the share of labelled training runs, for each method trained at several shares."""
    share = re.compile(r"_(\d+)pct")
    by: dict[str, dict[int, dict]] = {}
    for r in _test_aggregates(rows):
        m = share.search(r["method"])
        base = share.sub("", r["method"]).replace("_continuous", "")
        by.setdefault(base, {}).setdefault(int(m.group(1)) if m else 100, {})[r["threshold"]] = r["csi"]
    by = {b: v for b, v in by.items() if len(v) > 1}
    if not by:
        return []
    shares = sorted({p for v in by.values() for p in v})
    lines = [
        "## Skill against the labelled share of the training runs (test, val-tuned)",
        "",
        "| method | "
        + " | ".join(f"CSI 0.1, {p} %" for p in shares)
        + " | "
        + " | ".join(f"CSI 10, {p} %" for p in shares)
        + " |",
        "| --- |" + " --- |" * (2 * len(shares)),
    ]
    for base, v in by.items():
        cells = [_fmt(v.get(p, {}).get(thr)) for thr in THRESHOLDS for p in shares]
        lines.append(f"| {base} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _seed_spread(rows: list[dict]) -> list[str]:
    """Test CSI of each training seed of the methods trained more than once (``_seedN``, val-tuned)."""
    by: dict[str, dict[str, dict]] = {}
    for r in _test_aggregates(rows):
        by.setdefault(re.sub(r"_seed\d+", "", r["method"]), {}).setdefault(r["method"], {})[r["threshold"]] = r
    by = {b: v for b, v in by.items() if len(v) > 1}
    if not by:
        return []
    lines = [
        "## Spread over training seeds (test, val-tuned)",
        "",
        "The same method trained again from other random numbers (pre-training included): initial weights, data",
        "order, crops, masks. A difference between methods smaller than this spread is one training run's luck.",
        "",
        "| method | seeds | CSI 0.1 per seed | CSI 10 per seed | CSI 10 mean | CSI 10 range |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for base, seeds in by.items():
        seeds = dict(sorted(seeds.items(), key=lambda kv: _seed_of(kv[0])))  # seed 0 first, whatever the row order
        heavy = [v[10.0]["csi"] for v in seeds.values()]
        scored = [c for c in heavy if c is not None]  # None: a seed that never forecast or saw the event
        mean, spread = (float(np.mean(scored)), max(scored) - min(scored)) if scored else (None, None)
        lines.append(
            f"| {base} | {len(seeds)} | {', '.join(_fmt(v[0.1]['csi']) for v in seeds.values())} | "
            f"{', '.join(_fmt(c) for c in heavy)} | {_fmt(mean)} | {_fmt(spread)} |"
        )
    return [*lines, ""]


def _seed_of(method: str) -> int:
    seed = re.search(r"_seed(\d+)", method)
    return int(seed.group(1)) if seed else 0
