"""Rain-class labels: one-hot, and the continuous (probability-density) labels of SSLPDL (Lee et al. 2025).

For observed rain r (mm/h) and class anchors 0, 0.1, 10:

* r <= 0:          (1, 0, 0)
* 0 < r < 0.1:     p0 = (0.1 - r) / 0.1,  p1 = 1 - p0,  p2 = 0
* 0.1 <= r < 10:   p0 = 0,  p1 = (10 - r) / 9.9,  p2 = 1 - p1
* r >= 10:         (0, 0, 1)
* optional smoothing: p <- (1 - alpha) p + alpha / 3

The one-hot label uses the class thresholds 0.1 and 10. NaN rain (no valid QPE) gives NaN labels: the loss skips
those pixels.
"""

from __future__ import annotations

import torch

LOW, HIGH = 0.1, 10.0


def onehot_labels(rain: torch.Tensor) -> torch.Tensor:
    """(..., H, W) rain -> (..., 3, H, W) one-hot (NaN where rain is NaN)."""
    cls = (rain >= LOW).long() + (rain >= HIGH).long()
    out = torch.nn.functional.one_hot(cls, 3).movedim(-1, -3).to(rain.dtype)
    return torch.where(torch.isnan(rain).unsqueeze(-3), torch.nan, out)


def continuous_labels(rain: torch.Tensor, alpha: float = 0.0) -> torch.Tensor:
    """(..., H, W) rain -> (..., 3, H, W) labels interpolated between the class anchors (formula above)."""
    r = rain.clamp(min=0)
    p0 = torch.where(r < LOW, (LOW - r) / LOW, torch.zeros_like(r))
    p2 = torch.where(
        r >= HIGH, torch.ones_like(r), torch.where(r >= LOW, 1 - (HIGH - r) / (HIGH - LOW), torch.zeros_like(r))
    )
    p1 = 1 - p0 - p2
    out = torch.stack([p0, p1, p2], dim=-3)
    if alpha:
        out = (1 - alpha) * out + alpha / 3
    return torch.where(torch.isnan(rain).unsqueeze(-3), torch.nan, out)
