"""Losses for the 3-class rain segmentation; pixels with NaN labels (no valid QPE) never count.

* ``mixed``: beta * CE_w(one-hot) + (1 - beta) * CE_w(continuous), beta = 0.75, class weights [1, 5, 10]
  (method.md). CE_w(y) = - sum_c w_c y_c log p_c, averaged over valid pixels.
* ``onehot``: the same with beta = 1 (weighted cross-entropy on one-hot labels).
* ``focal``: focal loss (Lin et al. 2017) - sum_c w_c y_c (1 - p_c)^gamma log p_c, gamma = 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from training.labels import continuous_labels, onehot_labels


@dataclass(frozen=True)
class LossConfig:
    kind: str = "mixed"  # mixed | onehot | continuous | focal
    beta: float = 0.75
    class_weights: tuple[float, float, float] = (1.0, 5.0, 10.0)
    gamma: float = 2.0
    alpha: float = 0.0  # label smoothing of the continuous labels


def _weighted_ce(log_p: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    per_pixel = -(weights.view(1, -1, 1, 1) * torch.nan_to_num(target) * log_p).sum(1)
    return (per_pixel * valid).sum() / valid.sum().clamp(min=1)


def rain_loss(logits: torch.Tensor, rain: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """logits (N, 3, H, W), rain (N, H, W) in mm/h with NaN = invalid."""
    valid = (~torch.isnan(rain)).to(logits.dtype)
    log_p = torch.log_softmax(logits.float(), dim=1)
    w = torch.tensor(cfg.class_weights, dtype=log_p.dtype, device=log_p.device)
    if cfg.kind == "focal":
        y = torch.nan_to_num(onehot_labels(rain))
        per_pixel = -(w.view(1, -1, 1, 1) * y * (1 - log_p.exp()) ** cfg.gamma * log_p).sum(1)
        return (per_pixel * valid).sum() / valid.sum().clamp(min=1)
    beta = {"mixed": cfg.beta, "onehot": 1.0, "continuous": 0.0}.get(cfg.kind)
    if beta is None:
        raise ValueError(f"unknown loss {cfg.kind!r}")
    loss = log_p.new_zeros(())
    if beta > 0:
        loss = loss + beta * _weighted_ce(log_p, onehot_labels(rain), w, valid)
    if beta < 1:
        loss = loss + (1 - beta) * _weighted_ce(log_p, continuous_labels(rain, cfg.alpha), w, valid)
    return loss


def patch_normalised(x: torch.Tensor, patch: int, groups: int, eps: float = 1e-6) -> torch.Tensor:
    """Each 3-D patch (one variable group x ``patch`` x ``patch`` pixels) of ``x`` (N, C, H, W) standardised by its
    own mean and variance: MAE's normalised-pixel target (He et al. 2022, "Masked Autoencoders Are Scalable Vision
    Learners", sec. 4 and table 1d), which asks the encoder for a patch's structure rather than its mean."""
    n, c, h, w = x.shape
    t = x.float().reshape(n, groups, c // groups, h // patch, patch, w // patch, patch)
    mean = t.mean(dim=(2, 4, 6), keepdim=True)
    var = t.var(dim=(2, 4, 6), keepdim=True, unbiased=False)
    return ((t - mean) / (var + eps).sqrt()).reshape(n, c, h, w)


def masked_mse(recon: torch.Tensor, target: torch.Tensor, pixel_mask: torch.Tensor) -> torch.Tensor:
    """Pre-training loss: mean squared error over the masked patches only (pixel_mask True = masked)."""
    m = pixel_mask.to(recon.dtype)
    return (((recon.float() - target.float()) ** 2) * m).sum() / m.sum().clamp(min=1)
