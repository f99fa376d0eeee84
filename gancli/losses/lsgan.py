"""Least-squares GAN (Mao et al. 2017): D regresses real samples to 1 and fakes to 0.

With the coding a = 0 (fake), b = 1 (real), c = 1 (what G wants D to say), D minimises
L_D = ½E[(D(x) - 1)²] + ½E[D(G(z))²]. Its optimum is D*(x) = p_d / (p_d + p_g), at which
L_D* = ½∫ p_d·p_g / (p_d + p_g). Since ∫(p_d - p_g)² / (p_d + p_g) = 2 - 4∫ p_d·p_g / (p_d + p_g),

    Δ(p_d, p_g) = ∫ (p_d - p_g)² / (p_d + p_g) = 2 - 8·L_D*,

the divergence Mao et al.'s Theorem 1 calls χ²_Pearson(p_d + p_g || 2p_g) and writes as
∫ (2p_g - (p_d + p_g))² / (p_d + p_g) (also known as the triangular discrimination); it lies in
[0, 2], 0 for p_d = p_g and 2 for disjoint supports.
That theorem's equality with G's objective needs the coding b - c = 1, b - a = 2 (e.g. -1, 1,
0); with a = 0, b = 1, c = 1 used here G minimises a different quantity, but D's optimal value
still pins Δ. For any other D, L_D >= L_D*, so 2 - 8·L_D is a lower bound on Δ, tight at D*.
"""

from __future__ import annotations

import torch
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss


@register_loss("lsgan")
class LSGANLoss(GANLoss):
    """D: ½E[(D(x) - 1)²] + ½E[D(G(z))²]; G: ½E[(D(G(z)) - 1)²]. D's output is used raw (no
    sigmoid): the squared error itself keeps pulling fakes that D already classifies correctly
    but that lie far from the boundary, which is LSGAN's remedy for vanishing gradients."""

    divergence_name = "pearson_chi2(p_d+p_g||2p_g)"

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        r, f = D(real), D(fake)
        loss = 0.5 * (r - 1).pow(2).mean() + 0.5 * f.pow(2).mean()
        with torch.no_grad():
            return DiscriminatorStep(loss, r.mean(), f.mean(), 2 - 8 * loss)

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return 0.5 * (D(fake) - 1).pow(2).mean()
