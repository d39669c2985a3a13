"""A plain U-Net (Ronneberger et al. 2015) trained from scratch: the baseline the method must beat."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from engine.model.config import UNetConfig
from engine.model.internimage import resize


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.down = nn.ModuleList(
            [_double_conv(cfg.in_channels, w[0])] + [_double_conv(a, b) for a, b in itertools.pairwise(w)]
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in itertools.pairwise(w))
        self.merge = nn.ModuleList(_double_conv(2 * a, a) for a in w[:-1])
        self.out = nn.Conv2d(w[0], cfg.num_classes, 1)

    def forward(self, x: torch.Tensor, token_mask=None, offset=(0, 0), step=(1, 1)) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(reversed(self.up), reversed(self.merge), strict=False):
            skip = skips.pop()
            x = merge(torch.cat([resize(up(x), skip.shape[-2:]), skip], dim=1))
        return self.out(x)
