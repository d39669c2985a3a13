"""A seed ensemble: the same network trained from several seeds, its class probabilities averaged.

Averaging the members' softmax outputs (Lakshminarayanan et al. 2017, "Simple and scalable predictive uncertainty
estimation using deep ensembles", NeurIPS) removes the part of each member's errors that depends on its seed. The
module returns the log of the mean probabilities, so everything downstream that applies a softmax to a network's
output gets the ensemble's mean probabilities unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SeedEnsemble(nn.Module):
    """log(mean over members of softmax(member(x))), shape (N, classes, H, W) as each member's logits."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.stack([m(x).float().softmax(1) for m in self.members]).mean(0)
        return mean.clamp_min(torch.finfo(mean.dtype).tiny).log()
