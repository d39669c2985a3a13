"""3-D patch embedding over (variable groups, y, x), MAE-style random masking, and folding onto the pixels.

Input ``(N, 16, H, W)`` is viewed as ``(N, 1, G=4, H, W)`` with each group holding 4 variables... more exactly as
``(N, 4 variables, G, H, W)``: a 3-D convolution with kernel = stride = (1, p, p) per group over the 4 variables of
the group embeds each (group, patch) token into ``D = fold x p x p`` numbers. Masked tokens become a learned mask
token; positional (y, x) and group embeddings are added; each token's D numbers are then folded back to a
``fold x p x p`` block at its place, giving a ``(N, G * fold, H, W)`` image a convolutional encoder can read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from engine.model.config import ModelConfig


class PatchEmbed3D(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        per_group = cfg.in_channels // cfg.groups_of_variables
        p, d = cfg.patch, cfg.embed_dim
        # Conv3d over (group, y, x) with the group's variables as input channels: one token per (group, patch).
        self.proj = nn.Conv3d(per_group, d, kernel_size=(1, p, p), stride=(1, p, p))
        self.mask_token = nn.Parameter(torch.zeros(1, d, 1, 1, 1))
        ty, tx = cfg.token_grid
        self.pos_yx = nn.Parameter(torch.zeros(1, d, 1, ty, tx))
        self.pos_group = nn.Parameter(torch.zeros(1, d, cfg.groups_of_variables, 1, 1))
        nn.init.trunc_normal_(self.pos_yx, std=0.02)
        nn.init.trunc_normal_(self.pos_group, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    def tokens_shape(self, h: int, w: int) -> tuple[int, int, int]:
        return (self.cfg.groups_of_variables, h // self.cfg.patch, w // self.cfg.patch)

    def keep_eager(self) -> None:
        """Leave ``positions`` out of ``torch.compile``: the placement arrives as Python numbers, which a compiled
        graph would bake in, so every tile offset would compile the whole network again; eager, it costs a few adds
        per call. Called by whoever compiles (``engine.predict``), not as a decorator: ``torch.compiler.disable``
        imports ``torch._dynamo``, about 3 s added to the start of every process that loads the model."""
        self.positions = torch.compiler.disable(self.positions)

    def positions(
        self, ty: int, tx: int, offset: tuple[float, float] = (0, 0), step: tuple[float, float] = (1, 1)
    ) -> torch.Tensor:
        """(1, D, 1, ty, tx) positional embeddings of a token grid whose first token lies at ``offset`` (y, x) on the
        training token grid, its tokens ``step`` training tokens apart. Whole offsets with unit steps slice the
        learnt table (training crops); other placements (a sub-domain off the patch lattice, a finer grid)
        interpolate between learnt tokens, and beyond the training grid the edge token is held: nothing was learnt
        there, and stretching the table would move every learnt position."""
        pos = self.pos_yx
        for dim, n, start, stride in ((-2, ty, offset[0], step[0]), (-1, tx, offset[1], step[1])):
            size = pos.shape[dim]
            if stride == 1 and start == int(start) and start >= 0 and start + n <= size:
                pos = pos.narrow(dim, int(start), n)
                continue
            at = [min(max(start + stride * i, 0.0), size - 1.0) for i in range(n)]
            low = torch.tensor([math.floor(a) for a in at], device=pos.device)
            high = torch.tensor([math.ceil(a) for a in at], device=pos.device)
            shape = [1] * pos.dim()
            shape[dim] = n
            frac = torch.tensor([a - math.floor(a) for a in at], dtype=pos.dtype, device=pos.device).view(shape)
            pos = torch.lerp(pos.index_select(dim, low), pos.index_select(dim, high), frac)
        return pos

    def forward(
        self,
        x: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        offset: tuple[float, float] = (0, 0),
        step: tuple[float, float] = (1, 1),
    ) -> torch.Tensor:
        """``x`` (N, C, H, W); ``token_mask`` (N, G, H/p, W/p) bool, True = masked; ``offset`` and ``step`` place
        the input's tokens on the training token grid (a training crop: its first token, unit steps), to add the
        right positional embeddings (:meth:`positions`). Returns (N, G*fold, H, W)."""
        n, c, h, w = x.shape
        cfg = self.cfg
        g = cfg.groups_of_variables
        # (N, G*V, H, W) -> (N, V, G, H, W): variables of a group are the conv's input channels.
        x5 = x.view(n, g, c // g, h, w).transpose(1, 2)
        tok = self.proj(x5)  # (N, D, G, h/p, w/p)
        if token_mask is not None:
            m = token_mask[:, None].to(tok.dtype)
            tok = tok * (1 - m) + self.mask_token.to(tok.dtype) * m
        ty, tx = tok.shape[-2:]
        tok = tok + self.positions(ty, tx, offset, step) + self.pos_group
        # Fold: D = fold * p * p -> a fold x p x p block per token.
        p, f = cfg.patch, cfg.fold_channels
        tok = tok.view(n, f, p, p, g, ty, tx)
        img = tok.permute(0, 4, 1, 5, 2, 6, 3).reshape(n, g * f, ty * p, tx * p)
        return img


def random_token_mask(
    n: int,
    shape: tuple[int, int, int],
    ratio: float | Sequence[float],
    generator: torch.Generator | None = None,
    device=None,
    tube: bool = False,
) -> torch.Tensor:
    """MAE-style masking: per sample, shuffle the tokens and mask exactly ``round(ratio * L)`` of them. A sequence
    gives one ratio per variable group (``shape[0]`` of them), each applied to that group's tokens. ``tube`` masks
    the same locations in every variable group (as VideoMAE masks the same patch in every frame), so a masked
    patch cannot be read off the other variables at its place."""
    if tube:
        if isinstance(ratio, Sequence):
            raise ValueError("tube masking hides whole locations: one ratio for all variable groups")
        one = random_token_mask(n, (1, *shape[1:]), ratio, generator, device)
        return one.expand(n, *shape).contiguous()
    if isinstance(ratio, Sequence):
        if len(ratio) != shape[0]:
            raise ValueError(f"{len(ratio)} masking ratios for {shape[0]} variable groups")
        groups = [random_token_mask(n, (1, *shape[1:]), r, generator, device) for r in ratio]
        return torch.cat(groups, dim=1)
    length = shape[0] * shape[1] * shape[2]
    n_mask = round(ratio * length)
    noise = torch.rand(n, length, generator=generator, device=device)
    order = noise.argsort(dim=1)
    mask = torch.zeros(n, length, dtype=torch.bool, device=device)
    mask.scatter_(1, order[:, :n_mask], True)
    return mask.view(n, *shape)


def token_mask_to_pixels(token_mask: torch.Tensor, patch: int, channels_per_group: int) -> torch.Tensor:
    """(N, G, ty, tx) token mask -> (N, G * channels_per_group, H, W) pixel mask of the input channels."""
    m = token_mask.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)
    return m.repeat_interleave(channels_per_group, dim=1)
