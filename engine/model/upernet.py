"""UPerNet head (Xiao et al. 2018, ECCV): a pyramid pooling module on the deepest features plus a feature
pyramid network over all stages, fused at stride 4 and upsampled to the input size."""

from __future__ import annotations

import torch
from torch import nn

from engine.model.internimage import resize


def conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class UPerNet(nn.Module):
    def __init__(
        self,
        in_channels: list[int],
        width: int,
        out_channels: int,
        pool_scales: tuple[int, ...] = (1, 2, 3, 6),
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        deepest = in_channels[-1]
        self.ppm = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(s), conv_bn_relu(deepest, width, 1)) for s in pool_scales
        )
        self.ppm_out = conv_bn_relu(deepest + len(pool_scales) * width, width, 3)
        self.lateral = nn.ModuleList(conv_bn_relu(c, width, 1) for c in in_channels[:-1])
        self.fpn = nn.ModuleList(conv_bn_relu(width, width, 3) for _ in in_channels[:-1])
        self.fuse = conv_bn_relu(len(in_channels) * width, width, 3)
        self.out = nn.Conv2d(width, out_channels, final_kernel, padding=final_kernel // 2)

    def forward(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        return resize(self.out(self.fused(features)), size)

    def fused(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The fused pyramid at the finest stage's resolution (stride 4), before the output convolution."""
        top = features[-1]
        pooled = [resize(branch(top), top.shape[-2:]) for branch in self.ppm]
        laterals = [lat(f) for lat, f in zip(self.lateral, features[:-1], strict=True)]
        laterals.append(self.ppm_out(torch.cat([top, *pooled], dim=1)))
        for i in range(len(laterals) - 1, 0, -1):  # top-down pathway
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[-2:])
        outs = [conv(lat) for conv, lat in zip(self.fpn, laterals[:-1], strict=True)] + [laterals[-1]]
        base = outs[0].shape[-2:]
        return self.fuse(torch.cat([resize(o, base) for o in outs], dim=1))


class HighResolutionSkip(nn.Module):
    """Full-resolution refinement of the stride-4 head (a DeepLabv3+-style low-level skip).

    Our deviation from the paper's plain UPerNet: at 5 km, heavy-rain cells span a few pixels, and logits
    upsampled from stride 4 (20 km) cannot place them; a U-Net with full-resolution skips could. The skip reads the
    folded patch embedding (what the encoder reads) at full resolution.
    """

    def __init__(self, skip_channels: int, head_width: int, out_channels: int, width: int = 32) -> None:
        super().__init__()
        self.skip = conv_bn_relu(skip_channels, width, 3)
        self.fuse = nn.Sequential(conv_bn_relu(head_width + width, width, 3), conv_bn_relu(width, width, 3))
        self.out = nn.Conv2d(width, out_channels, 1)

    def forward(self, head_features: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = resize(head_features, skip.shape[-2:])
        return self.out(self.fuse(torch.cat([up, self.skip(skip)], dim=1)))
