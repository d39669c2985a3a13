"""The whole post-processor, read top to bottom: patch embedding (+ masking) -> InternImage -> UPerNet.

``task="pretrain"`` reconstructs the 16 normalised input channels (masked-patch MSE); ``task="segment"`` gives
3 rain-class logits per pixel, refined at full resolution (``HighResolutionSkip``, our deviation from the paper's
plain UPerNet, off with ``high_res_skip: false``). Fine-tuning loads the pre-trained embedding and encoder into a
segment network, and with ``_head`` methods the pre-trained UPerNet pyramid as well.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.model.config import ModelConfig
from engine.model.internimage import InternImageEncoder
from engine.model.patch_embed import PatchEmbed3D
from engine.model.upernet import HighResolutionSkip, UPerNet

BACKBONE = ("embed.", "encoder.")  # parameter-name prefixes of what fine-tuning inherits from pre-training
PYRAMID = "head."  # the UPerNet pyramid, inherited too by ``_head`` methods, all but its task-specific output conv
PYRAMID_OUTPUT = "head.out."


class PostProcessor(nn.Module):
    def __init__(self, cfg: ModelConfig, task: str = "segment") -> None:
        super().__init__()
        if task not in ("pretrain", "segment"):
            raise ValueError(f"unknown task {task!r}")
        self.cfg, self.task = cfg, task
        self.embed = PatchEmbed3D(cfg)
        self.encoder = InternImageEncoder(
            cfg.folded_channels, cfg.channels, cfg.depths, cfg.dcn_groups, cfg.mlp_ratio, cfg.drop_path
        )
        out = cfg.in_channels if task == "pretrain" else cfg.num_classes
        self.head = UPerNet(
            self.encoder.out_channels, cfg.fpn_width, out, cfg.pool_scales, 3 if task == "pretrain" else 1
        )
        self.refine = (
            HighResolutionSkip(
                cfg.folded_channels + (cfg.in_channels if cfg.skip_reads_input else 0),
                cfg.fpn_width,
                out,
                cfg.skip_width,
            )
            if task == "segment" and cfg.high_res_skip
            else None
        )

    def forward(
        self,
        x: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        offset: tuple[float, float] = (0, 0),
        step: tuple[float, float] = (1, 1),
    ) -> torch.Tensor:
        """x (N, 16, H, W) normalised, H and W multiples of 32 -> (N, 16 or 3, H, W). ``offset`` and ``step`` place
        its tokens on the training token grid (``PatchEmbed3D.positions``)."""
        folded = self.embed(x, token_mask, offset, step)
        features = self.encoder(folded)
        if self.refine is not None:
            skip = torch.cat([folded, x], dim=1) if self.cfg.skip_reads_input else folded
            return self.refine(self.head.fused(features), skip)
        return self.head(features, x.shape[-2:])


def inherited(name: str, head: bool) -> bool:
    """Whether parameter or buffer ``name`` comes from pre-training: the backbone always, the UPerNet pyramid if
    ``head``."""
    return name.startswith(BACKBONE) or (head and name.startswith(PYRAMID) and not name.startswith(PYRAMID_OUTPUT))
