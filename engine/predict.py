"""The inference engine: shipped weights -> a post-processed run as a CF ``xarray.Dataset``.

GPU: bf16 autocast, channels-last, pinned host memory, optional ``torch.compile``. CPU: inference mode on all
cores. Domains larger than the network's training grid are cut into overlapping tiles whose probabilities are
blended with a raised-cosine weight, so no seams appear. Every input (a sub-domain, each tile) reads the network's
positional embeddings of where it lies on the training grid (``engine.placement``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from engine.inference import batched_probabilities
from engine.model.manifest import DEFAULT_WEIGHTS
from engine.model.patch_embed import PatchEmbed3D
from engine.model.weights import load_model
from engine.normalise import NormStats, normalise, stack_channels
from engine.placement import Placement
from engine.prediction import to_dataset, with_manifest_fields


def pick_device(name: str | None = None) -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from engine.errors import DataError

        raise DataError("--device cuda asked for, but no CUDA GPU is visible")
    return torch.device(name)


def _blend_window(size: int, overlap: int) -> np.ndarray:
    """1 in the middle, a raised-cosine ramp over ``overlap`` pixels at each edge (never exactly 0)."""
    w = np.ones(size, dtype=np.float32)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        w[:overlap], w[-overlap:] = ramp, ramp[::-1]
    return w


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = [*range(0, length - tile, step), length - tile]
    return sorted(set(starts))


class Predictor:
    def __init__(
        self,
        weights: str | Path = DEFAULT_WEIGHTS,
        device: str | None = None,
        batch: int = 8,
        compile: bool = False,
        threads: int | None = None,
        tile: int | None = None,
        overlap: int = 32,
    ) -> None:
        self.model, self.manifest = load_model(weights)
        self.weights = Path(weights)
        self._setup(device, batch, compile, threads, tile, overlap)

    @classmethod
    def from_model(cls, model: torch.nn.Module, manifest: dict, device: str | None = None, **kw) -> Predictor:
        """A predictor around an in-memory model (benchmarks of untrained sizes); ``manifest`` as shipped."""
        self = cls.__new__(cls)
        self.model, self.manifest, self.weights = model.eval(), manifest, Path("<memory>")
        self._setup(
            device,
            kw.get("batch", 8),
            kw.get("compile", False),
            kw.get("threads"),
            kw.get("tile"),
            kw.get("overlap", 32),
        )
        return self

    def _setup(self, device, batch, compile, threads, tile, overlap) -> None:
        self.device = pick_device(device)
        self.stats = NormStats.from_dict(self.manifest["normalisation"])
        cfg = self.manifest["model_config"]
        grid = cfg.get("token_grid", (10, 10))
        self.patch = int(cfg.get("patch", 16))
        self.tile = tile or int(grid[0]) * self.patch
        self.overlap, self.batch = overlap, batch
        if self.device.type == "cuda":
            self.model = self.model.to(self.device)  # not channels_last: the 3-D patch embedding's weight is 5-D
            torch.backends.cudnn.benchmark = True
        else:
            torch.set_num_threads(threads or os.cpu_count() or 1)
        self._forward: Callable = self.model
        if compile:
            for module in self.model.modules():
                if isinstance(module, PatchEmbed3D):
                    module.keep_eager()
            self._forward = torch.compile(self.model)

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    def probabilities(self, x: np.ndarray, placement: Placement | None = None) -> np.ndarray:
        """Normalised (N, 16, H, W) -> (N, 3, H, W) class probabilities; tiles when H or W exceed the tile.
        ``placement``: where ``x`` lies on the training grid (default: at its first pixel, at its spacing)."""
        place = placement or Placement()
        n, _, h, w = x.shape
        if h <= self.tile and w <= self.tile:
            return self._batched(x, *place.tokens(0, 0, self.patch))
        out = np.zeros((n, 3, h, w), dtype=np.float32)
        weight = np.zeros((h, w), dtype=np.float32)
        step = self.tile - self.overlap
        for y0 in _starts(h, self.tile, step):
            for x0 in _starts(w, self.tile, step):
                wy = _blend_window(min(self.tile, h), self.overlap if h > self.tile else 0)
                wx = _blend_window(min(self.tile, w), self.overlap if w > self.tile else 0)
                win = wy[:, None] * wx[None, :]
                tile = x[:, :, y0 : y0 + self.tile, x0 : x0 + self.tile]
                probs = self._batched(tile, *place.tokens(y0, x0, self.patch))
                out[:, :, y0 : y0 + self.tile, x0 : x0 + self.tile] += probs * win
                weight[y0 : y0 + self.tile, x0 : x0 + self.tile] += win
        return out / weight

    def _batched(self, x: np.ndarray, offset: tuple[float, float], step: tuple[float, float]) -> np.ndarray:
        return batched_probabilities(lambda xb: self._forward(xb, None, offset, step), x, self.batch, self.device)

    def predict(self, ds: xr.Dataset) -> xr.Dataset:
        """A run's Dataset (16 channels) -> probabilities and most likely class, with provenance."""
        place = Placement.of(ds["lat"].values, ds["lon"].values, self.manifest.get("trained_area"))
        probs = self.probabilities(normalise(stack_channels(ds), self.stats), place)
        return with_manifest_fields(to_dataset(probs, ds, self.manifest), self.manifest)
