"""How much skill the demo twin leaves to win: forecasts that know parts of nature no post-processor can see.

The twin (``engine/data/twin.py``) makes the observed rain from nature's weather systems, convective cells born at
random places, a small-scale multiplicative variability (log-sd ``RAIN_NOISE``) and the QPE's measurement noise
(log-sd 0.15). A post-processor sees only the NWP's view of the systems. Each oracle here forecasts a rain amount
from part of nature and says "yes" where it reaches a level tuned for CSI on the validation runs, as ``evaluate``
tunes the networks' probability thresholds:

* ``nwp_in_place``: the NWP's own rain had its run's errors been zero: fronts, troughs and typhoons where nature
  has them, the NWP's physics, smoothing and own random cells unchanged. What calibrating the NWP's amounts could
  reach without its displacement and timing errors, the part of its error no post-processor can know run by run.
* ``systems``: nature's rain before its small-scale variability, without the convective cells: the fronts, troughs,
  typhoons and orographic lift exactly, the cells not at all. A reference, not a bound (a forecast can raise its
  odds where cells are likely).
* ``nature_expected``: nature's rain before its small-scale variability. That noise is independent of everything
  an NWP run holds and scales the rain alike everywhere, so the chance of an event grows with this amount and no
  forecast of the twin can expect a better CSI (up to the tuning): **the ceiling** for every method.
* ``nature``: nature's rain itself; misses only the measurement noise.

``python -m training ceiling --config FILE`` scores them on the config's test runs and on the held-out archive that
``evaluate`` scored, beside the networks' and the raw NWP's CSI from ``evaluation.json``. The QPE they are scored
against is rebuilt from the twin and checked bit for bit against the archive's, so the oracles and the networks
answer the same observations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from engine.data.atomic import atomic_write_bytes
from engine.data.catalog import Catalog, run_time
from engine.data.demo import GENERATOR_VERSION
from engine.data.twin import Errors, Twin
from engine.errors import DataError
from engine.verify.categorical import TABLE_KEYS, categorical_scores
from training.config import HELDOUT, THRESHOLDS, TrainConfig
from training.evaluate import archive_leads
from training.store import Store

ORACLES = ("nwp_in_place", "systems", "nature_expected", "nature")
# Candidate decision levels, as multiples of the event threshold (1/8 octave apart, 1/16x to 64x: the NWP drizzles).
LEVEL_FACTORS = 2.0 ** (np.arange(-32, 49) / 8)
NETWORKS = ("unet", "scratch", "pretrained_continuous")  # pooled with their `_seedN` twins


def twin_of(root: Path) -> Twin:
    """The twin that generated the demo archive at ``root`` (as ``engine.data.demo.generate`` built it)."""
    try:
        meta = json.loads((root / "archive.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read archive.json ({exc})", root) from exc
    if meta.get("generator") != "engine.data.demo" or meta.get("generator_version") != GENERATOR_VERSION:
        raise DataError(
            f"not written by the demo generator version {GENERATOR_VERSION}: only the twin's archives have a known "
            "nature",
            root,
        )
    days = len(meta["runs"]) + max(meta["lead_times"]) // 24 + 1
    return Twin(int(meta["seed"]), run_time(meta["runs"][0]), days=days)


def oracle_fields(twin: Twin, run: str, lead: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each oracle's rain amount (mm/h) for the hour ending at ``run`` + ``lead``, and the QPE of that hour."""
    r = int((run_time(run) - twin.start) / pd.Timedelta(days=1))
    hour = 24 * r + lead
    nature = twin.state(hour)
    fields = {
        "nwp_in_place": twin.state(hour, Errors(), cell_seed=(twin.seed, 21, r))["tp"],
        "systems": twin.state(hour, cells=False)["tp_expected"],
        "nature_expected": nature["tp_expected"],
        "nature": nature["tp"],
    }
    return fields, twin.qpe(hour, nature["tp"])


def level_tables(
    fields: dict[str, np.ndarray], obs: np.ndarray, valid: np.ndarray
) -> dict[tuple[str, float], np.ndarray]:
    """Contingency tables (levels, 4 in ``TABLE_KEYS`` order) of "oracle >= level" against "obs >= threshold", for
    every oracle, event threshold and candidate level, over the ``valid`` pixels."""
    out = {}
    for thr in THRESHOLDS:
        levels = thr * LEVEL_FACTORS
        with np.errstate(invalid="ignore"):
            event = (obs >= thr)[valid]
        n_yes, n_no = int(event.sum()), int((~event).sum())
        for name, field in fields.items():
            # Index of the highest level each pixel reaches (-1: none); "yes at level k" = index >= k.
            idx = np.searchsorted(levels, field[valid], side="right") - 1
            reached_yes, reached_no = (_reaching(idx[e], len(levels)) for e in (event, ~event))
            out[name, thr] = np.stack([reached_yes, n_yes - reached_yes, reached_no, n_no - reached_no], axis=1)
    return out


def _reaching(idx: np.ndarray, n_levels: int) -> np.ndarray:
    """For each level k, how many of the pixels (highest level reached ``idx``, -1 for none) reach it."""
    return np.bincount(idx + 1, minlength=n_levels + 1)[::-1].cumsum()[::-1][1:]


def _summed(samples: Iterable[tuple[str, int, np.ndarray]], twin: Twin, mask: np.ndarray, where: str) -> dict:
    """``level_tables`` summed over (run, lead time, observed QPE) samples, each QPE checked against the twin's."""
    total = {(n, thr): np.zeros((len(LEVEL_FACTORS), 4), np.int64) for n in ORACLES for thr in THRESHOLDS}
    for run, lead, obs in samples:
        fields, rebuilt = oracle_fields(twin, run, lead)
        if not np.array_equal(rebuilt, obs, equal_nan=True):
            raise DataError(
                f"the QPE valid at run {run} + {lead} h is not the twin's (changed since the generator wrote it?): "
                "the oracles would answer other observations than the networks",
                where,
            )
        for key, t in level_tables(fields, obs, np.isfinite(obs) & mask).items():
            total[key] += t
    return total


def _store_samples(store: Store, split: str) -> Iterator[tuple[str, int, np.ndarray]]:
    for i, s in enumerate(store.meta["samples"]):
        if s["split"] == split:
            yield s["run"], s["lead"], np.asarray(store.y[i])


def _archive_samples(cat: Catalog, leads: list[int]) -> Iterator[tuple[str, int, np.ndarray]]:
    for run in cat.runs():
        for lead, obs in zip(leads, cat.load_qpe(run, leads).values, strict=True):
            yield run, lead, obs


def _scores(table: np.ndarray) -> dict:
    t = {k: int(v) for k, v in zip(TABLE_KEYS, table, strict=True)}
    s = categorical_scores(t)
    return {**t, **{k: round(float(s[k]), 5) for k in ("csi", "pod", "far", "bias")}}


def _network_rows(evaluation: dict, dataset: str) -> dict[str, dict[float, dict]]:
    """raw NWP and each of ``NETWORKS`` (tables summed over its seeds) at val-tuned decisions, all lead times."""
    rows = [r for r in evaluation["rows"] if r["dataset"] == dataset and r["lead_time"] is None]
    out: dict[str, dict[float, dict]] = {}
    for name in ("raw_nwp", *NETWORKS):
        for thr in THRESHOLDS:
            picked = [
                r
                for r in rows
                if re.fullmatch(rf"{name}(_seed\d+)?", r["method"])
                and r["threshold"] == thr
                and r["decision"] in ("raw", "val_tuned")
            ]
            if not picked:
                continue
            table = np.sum([[r[k] for k in TABLE_KEYS] for r in picked], axis=0)
            out.setdefault(name, {})[thr] = {**_scores(table), "members": sorted({r["method"] for r in picked})}
    return out


def ceiling(cfg: TrainConfig, progress: bool = True) -> dict:
    """Tune each oracle's levels on the validation runs, score them on the test runs and the held-out archive, and
    write ``ceiling.json`` and ``ceiling.md`` beside the config's ``evaluation.json``."""
    results = Path(cfg.results_dir)
    path = results / "evaluation.json"
    try:
        evaluation = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror}): run `python -m training evaluate` first", path) from exc
    store = Store(cfg.data.store)
    store.require_current(progress)
    cat = Catalog(store.meta["archive"])
    twin = twin_of(cat.root)
    val_runs, test_runs = store.runs("val"), store.runs("test")
    if test_runs != evaluation["test_runs"]:
        raise DataError("its test runs are not the store's: run `python -m training evaluate` again", path)
    heldout = Catalog(cfg.heldout_archive(len(evaluation["heldout_runs"])))
    heldout_twin = twin_of(heldout.root)
    heldout_leads = archive_leads(heldout, cfg.data.lead_times)

    def bar(samples: Iterable, total: int, what: str) -> Iterable:
        return tqdm(samples, total=total, desc=f"oracles on {what}", unit="hour", disable=not progress)

    n_val = sum(s["split"] == "val" for s in store.meta["samples"])
    n_test = sum(s["split"] == "test" for s in store.meta["samples"])
    val = _summed(bar(_store_samples(store, "val"), n_val, "validation"), twin, cat.grid.qpe_mask, str(cat.root))
    test = _summed(bar(_store_samples(store, "test"), n_test, "test"), twin, cat.grid.qpe_mask, str(cat.root))
    held = _summed(
        bar(_archive_samples(heldout, heldout_leads), len(heldout.runs()) * len(heldout_leads), HELDOUT),
        heldout_twin,
        heldout.grid.qpe_mask,
        str(heldout.root),
    )
    oracles: dict[str, dict] = {}
    for name in ORACLES:
        for thr in THRESHOLDS:
            csi = np.array([categorical_scores(dict(zip(TABLE_KEYS, t, strict=True)))["csi"] for t in val[name, thr]])
            # No validation runs (or no event in them): the event's own threshold, as `evaluate` falls back to argmax.
            k = int(np.nanargmax(csi)) if np.isfinite(csi).any() else int(np.flatnonzero(LEVEL_FACTORS == 1)[0])
            oracles.setdefault(name, {})[f"{thr:g}"] = {
                "level_mm_h": round(float(thr * LEVEL_FACTORS[k]), 4),
                "validation": _scores(val[name, thr][k]),
                "test": _scores(test[name, thr][k]),
                HELDOUT: _scores(held[name, thr][k]),
            }
    result = {
        "config": cfg.source,
        "validation_runs": val_runs,
        "test_runs": test_runs,
        "heldout_runs": heldout.runs(),
        "oracles": oracles,
        "networks": {
            ds: {m: {f"{t:g}": v for t, v in by.items()} for m, by in _network_rows(evaluation, ds).items()}
            for ds in ("test", HELDOUT)
        },
    }
    atomic_write_bytes(results / "ceiling.json", (json.dumps(result, indent=1) + "\n").encode())
    atomic_write_bytes(results / "ceiling.md", render(result).encode())
    return result


LABELS = {
    "raw_nwp": "raw NWP",
    "unet": "U-Net",
    "scratch": "our network from scratch",
    "pretrained_continuous": "the full method",
    "nwp_in_place": "oracle: the NWP's own rain without its run's errors (systems in place)",
    "systems": "oracle: nature's weather systems exactly, no convective cells",
    "nature_expected": "**oracle: nature before its small-scale variability (the ceiling)**",
    "nature": "oracle: nature's rain itself (misses only the QPE's noise)",
}


def render(result: dict) -> str:
    """``ceiling.md``: CSI of the raw NWP, the networks and the oracles, and each one's share of the gain from the
    raw NWP to the ceiling."""
    lines = [
        "# How much skill the twin leaves to win",
        "",
        "Written by `python -m training ceiling` (`training/ceiling.py` says what each oracle knows). CSI summed over",
        "all lead times; every decision level or probability threshold tuned on the validation runs. *Share* is",
        "(CSI - raw NWP) / (ceiling - raw NWP): how much of the attainable gain over the raw NWP a forecast takes.",
        "",
    ]
    for ds, title in (("test", "test runs"), (HELDOUT, f"held-out archive ({len(result['heldout_runs'])} runs)")):
        rows = {**result["networks"][ds], **{n: _oracle_scores(result, n, ds) for n in ORACLES}}
        ceiling_csi = rows["nature_expected"]
        nwp = rows.get("raw_nwp", {})
        lines += [f"## {title}", "", "| forecast | CSI 0.1 mm/h | share | CSI 10 mm/h | share | bias 10 mm/h |"]
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for name in ("raw_nwp", *NETWORKS, *ORACLES):
            if name not in rows:
                continue
            cells = []
            for thr in ("0.1", "10"):
                csi = rows[name][thr]["csi"]
                top, base = ceiling_csi[thr]["csi"], nwp.get(thr, {}).get("csi")
                # `nature` knows the noise the ceiling does not: its share (above 100 %) would only confuse.
                share = "" if base is None or top == base or name == "nature" else f"{(csi - base) / (top - base):.0%}"
                cells += [f"{csi:.3f}", share]
            seeds = len(rows[name]["10"].get("members", []))
            label = (
                LABELS[name]
                if name not in NETWORKS
                else LABELS[name] + (" (1 seed)" if seeds == 1 else f" ({seeds} seeds, tables summed)")
            )
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {rows[name]['10']['bias']:.2f} |")
        lines.append("")
    levels = ", ".join(
        f"`{n}` {o['0.1']['level_mm_h']:g} / {o['10']['level_mm_h']:g}" for n, o in result["oracles"].items()
    )
    lines += [f"Oracle decision levels (mm/h, at the 0.1 / 10 mm/h events): {levels}.", ""]
    return "\n".join(lines)


def _oracle_scores(result: dict, name: str, dataset: str) -> dict[str, dict]:
    """An oracle's scores on ``dataset`` keyed by event, as the networks' rows are."""
    return {thr: v[dataset] for thr, v in result["oracles"][name].items()}
