"""Performance-diagram data (Roebber 2009, Weather and Forecasting 24, 601-608): success ratio on x, POD on y,
with CSI contours and frequency-bias lines. CSI = 1 / (1/SR + 1/POD - 1); bias = POD / SR."""

from __future__ import annotations

import numpy as np


def background(n: int = 101) -> dict[str, np.ndarray]:
    """A grid of SR, POD and the CSI and bias they imply, for contouring."""
    sr = np.linspace(0.01, 1, n)
    pod = np.linspace(0.01, 1, n)
    s, p = np.meshgrid(sr, pod)
    return {"sr": sr, "pod": pod, "csi": 1 / (1 / s + 1 / p - 1), "bias": p / s}


def bias_line(bias: float, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(sr, pod) along the line of constant frequency bias inside the unit square."""
    sr = np.linspace(0, min(1.0, 1.0 / bias), n)
    return sr, bias * sr
