"""Model -> class probabilities for a stack of normalised inputs, in batches, without gradients."""

from __future__ import annotations

import numpy as np
import torch


def predict_probabilities(
    model: torch.nn.Module, x: np.ndarray, batch: int = 8, device: torch.device | str = "cpu"
) -> np.ndarray:
    """x (N, 16, H, W) normalised float -> (N, 3, H, W) float32 probabilities (softmax over classes)."""
    device = torch.device(device)
    model = model.to(device).eval()
    out = np.empty((x.shape[0], 3, *x.shape[-2:]), dtype=np.float32)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for s in range(0, x.shape[0], batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[s : s + batch], dtype=np.float32)).to(device)
            out[s : s + batch] = model(xb).float().softmax(1).cpu().numpy()
    return out
