"""Dataset -> normalised model input: (lead, 16, lat, lon) float32, z-scored per channel.

Rain is heavy-tailed, so ``tp`` is z-scored as log1p(mm). The statistics come from the training split and
travel in the weights manifest, so training and inference normalise identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from engine.channels import CHANNEL_NAMES

LOG_CHANNELS = ("tp",)


@dataclass(frozen=True)
class NormStats:
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to_dict(self) -> dict:
        return {
            "channels": list(CHANNEL_NAMES),
            "mean": list(self.mean),
            "std": list(self.std),
            "log1p": list(LOG_CHANNELS),
        }

    @classmethod
    def from_dict(cls, d: dict) -> NormStats:
        if list(d["channels"]) != list(CHANNEL_NAMES):
            raise ValueError("normalisation statistics are for other channels")
        return cls(tuple(d["mean"]), tuple(d["std"]))


def stack_channels(ds: xr.Dataset) -> np.ndarray:
    """(lead, 16, lat, lon) float32 in physical units, log1p applied to rain."""
    arrays = []
    for ch in CHANNEL_NAMES:
        a = ds[ch].transpose("lead_time", "lat", "lon").values.astype(np.float32)
        arrays.append(np.log1p(np.clip(a, 0, None)) if ch in LOG_CHANNELS else a)
    return np.stack(arrays, axis=1)


def compute_stats(stacked: np.ndarray) -> NormStats:
    """Per-channel mean and std of ``stack_channels`` output (any number of samples on axis 0)."""
    mean = stacked.mean(axis=(0, 2, 3), dtype=np.float64)
    std = stacked.std(axis=(0, 2, 3), dtype=np.float64)
    return NormStats(tuple(float(m) for m in mean), tuple(float(max(s, 1e-6)) for s in std))


def normalise(stacked: np.ndarray, stats: NormStats) -> np.ndarray:
    mean = np.asarray(stats.mean, np.float32)[None, :, None, None]
    std = np.asarray(stats.std, np.float32)[None, :, None, None]
    return (stacked - mean) / std
