"""InternImage-style encoder (Wang et al. 2023): a conv stem, then 4 stages of DCNv3 blocks with stride-2
downsampling between them; returns the 4 stage outputs (strides 4, 8, 16, 32) for a UPerNet head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.model.dcnv3 import DCNv3


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of a channels-first tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch for a random subset of samples."""
    if p == 0.0 or not training:
        return x
    keep = torch.rand(x.shape[0], *([1] * (x.ndim - 1)), device=x.device, dtype=x.dtype) >= p
    return x * keep / (1 - p)


class Block(nn.Module):
    """x + DCNv3(LN(x)); x + MLP(LN(x)) on channels-last tensors."""

    def __init__(self, channels: int, groups: int, mlp_ratio: float, drop: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.dcn = DCNv3(channels, groups)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + drop_path(self.dcn(self.norm1(x)), self.drop, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop, self.training)


class InternImageEncoder(nn.Module):
    def __init__(
        self,
        in_channels: int,
        channels: int,
        depths: tuple[int, ...],
        groups: tuple[int, ...],
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels // 2, 3, stride=2, padding=1),
            LayerNorm2d(channels // 2),
            nn.GELU(),
            nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1),
            LayerNorm2d(channels),
        )
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.out_channels = [channels * 2**i for i in range(len(depths))]
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        start = 0
        for i, depth in enumerate(depths):
            c = self.out_channels[i]
            self.stages.append(nn.ModuleList(Block(c, groups[i], mlp_ratio, rates[start + j]) for j in range(depth)))
            self.downsamples.append(
                nn.Sequential(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), LayerNorm2d(2 * c))
                if i < len(depths) - 1
                else nn.Identity()
            )
            start += depth
        self.out_norms = nn.ModuleList(nn.LayerNorm(c) for c in self.out_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        features = []
        for blocks, down, norm in zip(self.stages, self.downsamples, self.out_norms, strict=True):
            y = x.permute(0, 2, 3, 1)
            for block in blocks:
                y = block(y)
            features.append(norm(y).permute(0, 3, 1, 2).contiguous())
            x = down(y.permute(0, 3, 1, 2))
        return features


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x if x.shape[-2:] == size else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
