"""What pre-training learned, per variable: the share of each masked field's variance the pre-trained network
rebuilds on validation samples, once with the method's own masking and once with whole places masked in every
variable group (tube masking). Where the two differ, the network read the masked patch off the other variables at
its place rather than off its surroundings.

``python -m training probe --config FILE [--method M] [--samples 24]``; ``1 - SSE / SS`` over the masked pixels,
``SS`` taken about zero, the training mean of every normalised field (so 0 is "predicts the mean").
"""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file

from engine.channels import CHANNELS
from engine.errors import DataError
from engine.model.network import PostProcessor
from engine.model.patch_embed import random_token_mask, token_mask_to_pixels
from training.config import TrainConfig
from training.losses import patch_normalised
from training.methods import Method
from training.pretrain import backbone_path, group_ratios
from training.store import Store


def explained(recon: torch.Tensor, target: torch.Tensor, pixel_mask: torch.Tensor) -> np.ndarray:
    """Per channel, ``1 - sum((recon - target)^2) / sum(target^2)`` over the masked pixels."""
    m = pixel_mask.float()
    sse = (((recon - target) ** 2) * m).sum((0, 2, 3))
    ss = ((target**2) * m).sum((0, 2, 3)).clamp(min=1e-12)
    return (1 - sse / ss).numpy()


def probe(cfg: TrainConfig, method: Method, samples: int = 24, seed: int = 0) -> list[dict]:
    """One row per input variable: ``own`` (the method's masking) and ``tube`` (whole places masked), on
    ``samples`` validation samples spread over the validation runs, the same masks for every network."""
    if not method.pretrained:
        raise DataError(f"{method.name} is not pre-trained: nothing to probe")
    path = backbone_path(cfg, **method.pretraining)
    if not path.exists():
        raise DataError(f"not pre-trained yet: `python -m training finetune --method {method.name}` makes it", path)
    saved = load_file(str(path))
    if "head.out.weight" not in saved:
        raise DataError(
            "holds no reconstruction output (written before pre-training kept it): delete it to pre-train again", path
        )
    mc = cfg.model_config
    model = PostProcessor(mc, "pretrain")
    model.load_state_dict(saved)
    model.eval()
    store = Store(cfg.data.store)
    idx = store.indices("val")
    if len(idx) == 0:
        raise DataError(f"{cfg.data.store}: no validation samples to probe on")
    pick = idx[np.linspace(0, len(idx) - 1, min(samples, len(idx))).round().astype(int)]
    x = torch.from_numpy(np.asarray(store.x[np.sort(pick)], dtype=np.float32))
    h, w = (s - s % 32 for s in x.shape[-2:])  # the network's stride; the grid's remainder is left out
    x = x[..., :h, :w]
    target = patch_normalised(x, mc.patch, mc.groups_of_variables) if method.pretrain_norm_pix else x
    shape = (mc.groups_of_variables, h // mc.patch, w // mc.patch)
    per_group = mc.in_channels // mc.groups_of_variables
    ratios = group_ratios(cfg, method.pretrain_mask_ratio, method.pretrain_rain_ratio)
    out = {}
    for name, tube in (("own", method.pretrain_tube), ("tube", True)):
        gen = torch.Generator().manual_seed(seed)
        tokens = random_token_mask(len(x), shape, method.pretrain_mask_ratio if tube else ratios, gen, tube=tube)
        with torch.inference_mode():
            recon = model(x, tokens)
        out[name] = explained(recon, target, token_mask_to_pixels(tokens, mc.patch, per_group))
    return [
        {"variable": c.name, "own": round(float(out["own"][i]), 3), "tube": round(float(out["tube"][i]), 3)}
        for i, c in enumerate(CHANNELS)
    ]
