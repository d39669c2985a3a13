"""Deformable convolution v3 (Wang et al. 2023, InternImage, CVPR), in pure PyTorch.

For each output pixel and each of G channel groups, K = k x k sampling points sit at the regular kernel grid
*plus learned offsets*; the value there is read by bilinear interpolation (``grid_sample``), multiplied by a
learned modulation (softmax over the K points of the group) and summed. Offsets and modulations come from a
depthwise-convolved copy of the input, so they vary per pixel; weights are shared across groups' points
(the separable form that makes v3 cheap). ``dcnv3_reference`` is the same operator as explicit loops, for tests.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _kernel_grid(kernel: int, dilation: int, device, dtype) -> torch.Tensor:
    """(K, 2) (x, y) displacements of the kernel's points from its centre, row-major over (y, x)."""
    r = torch.arange(kernel, device=device, dtype=dtype) * dilation - dilation * (kernel - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


def dcnv3_sample(
    value: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    groups: int,
    kernel: int = 3,
    stride: int = 1,
    pad: int = 1,
    dilation: int = 1,
    offset_scale: float = 1.0,
) -> torch.Tensor:
    """value (N, H, W, C); offset (N, Ho, Wo, G*K*2) as (x, y) pairs; mask (N, Ho, Wo, G*K) -> (N, Ho, Wo, C).

    Sampling positions are in pixels of the zero-padded input, pixel centres at integers; outside reads as 0.
    """
    n, h, w, c = value.shape
    k2 = kernel * kernel
    cg = c // groups
    value = F.pad(value, (0, 0, pad, pad, pad, pad))
    hp, wp = h + 2 * pad, w + 2 * pad
    ho, wo = offset.shape[1], offset.shape[2]
    centre = dilation * (kernel - 1) / 2
    ys = centre + stride * torch.arange(ho, device=value.device, dtype=value.dtype)
    xs = centre + stride * torch.arange(wo, device=value.device, dtype=value.dtype)
    ref = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (Ho, Wo, 2) as (x, y)
    grid = _kernel_grid(kernel, dilation, value.device, value.dtype)  # (K, 2)
    loc = (
        ref[None, :, :, None, None, :]
        + grid[None, None, None, None]
        + offset_scale * offset.view(n, ho, wo, groups, k2, 2)
    )  # (N, Ho, Wo, G, K, 2)
    size = torch.tensor([wp, hp], device=value.device, dtype=value.dtype)
    norm = (loc + 0.5) / size * 2 - 1  # grid_sample coordinates, align_corners=False
    norm = norm.permute(0, 3, 1, 2, 4, 5).reshape(n * groups, ho * wo, k2, 2)
    v = value.view(n, hp, wp, groups, cg).permute(0, 3, 4, 1, 2).reshape(n * groups, cg, hp, wp)
    sampled = F.grid_sample(v, norm, mode="bilinear", padding_mode="zeros", align_corners=False)  # (NG, Cg, HoWo, K)
    m = mask.view(n, ho * wo, groups, k2).permute(0, 2, 1, 3).reshape(n * groups, 1, ho * wo, k2)
    out = (sampled * m).sum(-1)  # (NG, Cg, HoWo)
    return out.view(n, groups, cg, ho, wo).permute(0, 3, 4, 1, 2).reshape(n, ho, wo, c)


def dcnv3_reference(value, offset, mask, groups, kernel=3, stride=1, pad=1, dilation=1, offset_scale=1.0):
    """The operator written out point by point (slow; small inputs only)."""
    n, h, w, c = value.shape
    cg, k2 = c // groups, kernel * kernel
    vp = F.pad(value, (0, 0, pad, pad, pad, pad))
    hp, wp = h + 2 * pad, w + 2 * pad
    ho, wo = offset.shape[1], offset.shape[2]
    out = torch.zeros(n, ho, wo, c, dtype=value.dtype)
    centre = dilation * (kernel - 1) / 2

    def read(b, yy, xx, ch):
        if 0 <= yy < hp and 0 <= xx < wp:
            return vp[b, yy, xx, ch]
        return 0.0

    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for g in range(groups):
                    for k in range(k2):
                        ky, kx = divmod(k, kernel)
                        dx, dy = offset[b, i, j, (g * k2 + k) * 2 : (g * k2 + k) * 2 + 2]
                        x = centre + stride * j + kx * dilation - centre + offset_scale * float(dx)
                        y = centre + stride * i + ky * dilation - centre + offset_scale * float(dy)
                        x0, y0 = math.floor(x), math.floor(y)
                        fx, fy = x - x0, y - y0
                        wgt = float(mask[b, i, j, g * k2 + k])
                        for ch in range(g * cg, (g + 1) * cg):
                            val = (
                                read(b, y0, x0, ch) * (1 - fy) * (1 - fx)
                                + read(b, y0, x0 + 1, ch) * (1 - fy) * fx
                                + read(b, y0 + 1, x0, ch) * fy * (1 - fx)
                                + read(b, y0 + 1, x0 + 1, ch) * fy * fx
                            )
                            out[b, i, j, ch] += wgt * val
    return out


class DCNv3(nn.Module):
    """DCNv3 layer on channels-last input (N, H, W, C)."""

    def __init__(self, channels: int, groups: int, kernel: int = 3, offset_scale: float = 1.0) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels {channels} not divisible by groups {groups}")
        self.channels, self.groups, self.kernel, self.offset_scale = channels, groups, kernel, offset_scale
        k2 = kernel * kernel
        self.dw_conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.dw_norm = nn.LayerNorm(channels)
        self.offset = nn.Linear(channels, groups * k2 * 2)
        self.mask = nn.Linear(channels, groups * k2)
        self.input_proj = nn.Linear(channels, channels)
        self.output_proj = nn.Linear(channels, channels)
        # Start as a plain (mean) kernel: zero offsets, uniform modulation.
        for layer in (self.offset, self.mask):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(self.input_proj.weight)
        nn.init.zeros_(self.input_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = x.shape
        value = self.input_proj(x)
        ctx = self.dw_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        ctx = F.gelu(self.dw_norm(ctx))
        offset = self.offset(ctx)
        mask = self.mask(ctx).view(n, h, w, self.groups, -1).softmax(-1).view(n, h, w, -1)
        out = dcnv3_sample(value, offset, mask, self.groups, self.kernel, 1, self.kernel // 2, 1, self.offset_scale)
        return self.output_proj(out)
