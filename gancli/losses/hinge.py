"""The hinge loss of Geometric GAN (Lim & Ye 2017), used by SNGAN (Miyato et al. 2018),
SAGAN and BigGAN.

D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]: a margin classifier that stops pushing on
samples it already scores beyond the margin. G minimises -E[D(G(z))], the Wasserstein-style
critic gap's G side.

The divergence logged is the critic gap E[D(x)] - E[D(G(z))]. Pointwise, the optimal D is
sign(p_d - p_g) ∈ {-1, 1} (D's loss is linear in D(x) on [-1, 1] and only grows outside it),
at which the gap is ∫|p_d - p_g| = 2·TV(p_d, p_g): the hinge D estimates twice the total
variation distance, and saturates at 2 for disjoint supports.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss


@register_loss("hinge")
class HingeLoss(GANLoss):
    """D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))]."""

    divergence_name = "critic_gap (2·total_variation at the optimum)"

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        r, f = D(real), D(fake)
        loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
        with torch.no_grad():
            r_mean, f_mean = r.mean(), f.mean()
            return DiscriminatorStep(loss, r_mean, f_mean, r_mean - f_mean)

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return -D(fake).mean()
