"""``prepare``: the training archive (GRIB2 + NetCDF) converted once into memory-mapped arrays.

``x.npy``  float16 (N, 16, H, W): normalised inputs (z-scores, rain as log1p) - float16 keeps 3 significant
           digits of a z-score, plenty, and halves the memory.
``y.npy``  float32 (N, H, W): QPE in mm (NaN = invalid). float32 so that 0.1 and 10 mm/h stay exact.
``store.json``: samples (run, lead, split), normalisation statistics, data fingerprint. Written last: a store
without it is incomplete and is rebuilt.
An unlabelled store (``data.unlabelled:`` in the config) has no ``y.npy``; its samples' split is ``unlabelled``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from engine.data.atomic import atomic_path, atomic_write_bytes
from engine.data.catalog import Catalog
from engine.data.demo import generate
from engine.normalise import NormStats, normalise, stack_channels
from training.config import TrainConfig


def cyclic_split(runs: list[str], blocks: dict) -> dict[str, str]:
    """Runs in time order cycle through blocks: ``train`` runs, then ``val``, then ``test`` (KoMet's 4/2/2)."""
    period = blocks["train"] + blocks["val"] + blocks["test"]
    out = {}
    for i, run in enumerate(sorted(runs)):
        pos = i % period
        out[run] = "train" if pos < blocks["train"] else "val" if pos < blocks["train"] + blocks["val"] else "test"
    return out


def fingerprint(archive: Path) -> str:
    """sha256 over the archive's description and every file's name and size."""
    h = hashlib.sha256()
    meta = archive / "archive.json"
    if meta.exists():
        h.update(meta.read_bytes())
    for p in sorted(archive.rglob("*")):
        if p.is_file() and p.suffix in (".grib2", ".nc"):
            h.update(f"{p.relative_to(archive)}:{p.stat().st_size}\n".encode())
    return h.hexdigest()


def prepare(cfg: TrainConfig, progress: bool = True) -> Path:
    """Build (or reuse) the labelled store and, if the config names one, the unlabelled store; returns the first."""
    store = _prepare_labelled(cfg, progress)
    if cfg.data.unlabelled is not None:
        prepare_unlabelled(cfg, Store(store).stats, progress)
    return store


def _prepare_labelled(cfg: TrainConfig, progress: bool) -> Path:
    archive, store = Path(cfg.data.archive), Path(cfg.data.store)
    if not (archive / "archive.json").exists():
        generate(
            archive,
            runs=cfg.data.runs,
            seed=cfg.data.demo_seed,
            leads=cfg.data.lead_times[1],
            start=pd.Timestamp(cfg.data.start),
            progress=progress,
        )
    cat = Catalog(archive)
    runs = cat.runs()
    split = cyclic_split(runs, cfg.split)
    fp = fingerprint(archive)
    meta_path = store / "store.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fp and meta.get("split_blocks") == cfg.split:
            return store
    leads = list(range(cfg.data.lead_times[0], cfg.data.lead_times[1] + 1))
    # Pass 1: statistics over the training runs only.
    total = total_sq = None
    count = 0
    for run in tqdm([r for r in runs if split[r] == "train"], desc="prepare: statistics", disable=not progress):
        s = stack_channels(cat.load_run(run, leads)).astype(np.float64)
        total = s.sum(axis=(0, 2, 3)) if total is None else total + s.sum(axis=(0, 2, 3))
        total_sq = (s**2).sum(axis=(0, 2, 3)) if total_sq is None else total_sq + (s**2).sum(axis=(0, 2, 3))
        count += s.shape[0] * s.shape[2] * s.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    stats = NormStats(tuple(map(float, mean)), tuple(map(float, std)))
    _write_store(store, cat, runs, leads, stats, split, fp, cfg.split, progress)
    return store


def prepare_unlabelled(cfg: TrainConfig, stats: NormStats, progress: bool = True) -> Path:
    """The optional unlabelled archive (NWP runs whose QPE is never read) as a store of inputs only, normalised with
    the labelled training runs' statistics: extra data that only pre-training sees."""
    u = cfg.data.unlabelled
    archive, store = Path(u.archive), Path(u.store)
    if not (archive / "archive.json").exists():
        generate(
            archive,
            runs=u.runs,
            seed=u.demo_seed,
            leads=cfg.data.lead_times[1],
            start=pd.Timestamp(u.start),
            progress=progress,
        )
    fp = fingerprint(archive)
    meta_path = store / "store.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fp and meta.get("normalisation") == stats.to_dict():
            return store
    cat = Catalog(archive)
    runs = cat.runs()
    leads = list(range(cfg.data.lead_times[0], cfg.data.lead_times[1] + 1))
    _write_store(store, cat, runs, leads, stats, dict.fromkeys(runs, "unlabelled"), fp, None, progress, labels=False)
    return store


def _write_store(
    store: Path,
    cat: Catalog,
    runs: list[str],
    leads: list[int],
    stats: NormStats,
    split: dict[str, str],
    fp: str,
    blocks: dict | None,
    progress: bool,
    labels: bool = True,
) -> None:
    """Pass 2: normalised inputs (and QPE targets when ``labels``), then ``store.json`` last."""
    n = len(runs) * len(leads)
    ny, nx = cat.grid.shape
    store.mkdir(parents=True, exist_ok=True)
    samples = []
    with contextlib.ExitStack() as files:
        x_tmp = files.enter_context(atomic_path(store / "x.npy"))
        x = np.lib.format.open_memmap(x_tmp, mode="w+", dtype=np.float16, shape=(n, 16, ny, nx))
        y = None
        if labels:
            y_tmp = files.enter_context(atomic_path(store / "y.npy"))
            y = np.lib.format.open_memmap(y_tmp, mode="w+", dtype=np.float32, shape=(n, ny, nx))
        for i, run in enumerate(tqdm(runs, desc=f"prepare: store {store.name}", disable=not progress)):
            sl = slice(i * len(leads), (i + 1) * len(leads))
            x[sl] = normalise(stack_channels(cat.load_run(run, leads)), stats).astype(np.float16)
            if y is not None:
                y[sl] = cat.load_qpe(run, leads).values
            samples += [{"run": run, "lead": ld, "split": split[run]} for ld in leads]
        x.flush()
        if y is not None:
            y.flush()
        del x, y
    meta = {
        "fingerprint": fp,
        "archive": str(cat.root),
        "split_blocks": blocks,
        "normalisation": stats.to_dict(),
        "samples": samples,
        "shape": [n, 16, ny, nx],
        "labels": labels,
    }
    atomic_write_bytes(store / "store.json", json.dumps(meta).encode())


class Store:
    """Read side of a prepared store."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.meta = json.loads((self.path / "store.json").read_text())
        self.x = np.load(self.path / "x.npy", mmap_mode="r")
        y = self.path / "y.npy"
        self.y = np.load(y, mmap_mode="r") if y.exists() else None  # None: an unlabelled store
        self.stats = NormStats.from_dict(self.meta["normalisation"])

    def indices(self, split: str, fraction: float = 1.0, seed: int = 0) -> np.ndarray:
        """Sample indices of a split; ``fraction`` < 1 keeps that share of its *runs* (labelled-data ablation)."""
        rows = [(i, s["run"]) for i, s in enumerate(self.meta["samples"]) if s["split"] == split]
        runs = sorted({r for _, r in rows})
        if fraction < 1.0:
            keep = max(1, round(fraction * len(runs)))
            runs = sorted(np.random.default_rng(seed).choice(runs, keep, replace=False).tolist())
        chosen = set(runs)
        return np.array([i for i, r in rows if r in chosen], dtype=np.int64)

    def runs(self, split: str) -> list[str]:
        return sorted({s["run"] for s in self.meta["samples"] if s["split"] == split})
