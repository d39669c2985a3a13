"""Model -> class probabilities for a stack of normalised inputs, in batches, without gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def batched_probabilities(
    forward: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, batch: int, device: torch.device
) -> np.ndarray:
    """x (N, 16, H, W) normalised float -> (N, 3, H, W) float32 probabilities (softmax over the classes of
    ``forward``'s logits), ``batch`` samples at a time on ``device``: bf16 autocast and pinned host memory on CUDA."""
    out = np.empty((x.shape[0], 3, *x.shape[-2:]), dtype=np.float32)
    cuda = device.type == "cuda"
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        for s in range(0, x.shape[0], batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[s : s + batch], dtype=np.float32))
            if cuda:
                xb = xb.pin_memory().to(device, non_blocking=True)
            out[s : s + batch] = forward(xb).float().softmax(1).cpu().numpy()
    return out


def predict_probabilities(
    model: torch.nn.Module, x: np.ndarray, batch: int = 8, device: torch.device | str = "cpu"
) -> np.ndarray:
    """``model``'s class probabilities of x (N, 16, H, W), the whole grid at once (``batched_probabilities``)."""
    device = torch.device(device)
    return batched_probabilities(model.to(device).eval(), x, batch, device)
