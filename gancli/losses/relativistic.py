"""The relativistic pairing GAN, RpGAN (Jolicoeur-Martineau 2019; Sun et al. 2020), the objective
of R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline").

D does not judge each sample on its own but each real sample against a generated one: with the
gap Δ = D(x) - D(G(z)) of a pair, D minimises E[softplus(-Δ)] = -E[log σ(Δ)] and G minimises
E[softplus(Δ)], the same pairs seen from the other side, so G's update needs the real batch
too. Pairs are formed by position, the i-th real sample with the i-th generated one (R3GAN's
pairing; under conditioning both have the same condition). Sun et al. show that this landscape
has no bad basins (the classic GAN's, where G covers only some modes); Huang et al. that with
the R1 and R2 penalties (`loss.r1_gamma`, `loss.r2_gamma`) the game is locally convergent.

The divergence logged is log 2 - L_D. With f(t) = log σ(t) + log 2, concave, f(0) = 0 and
sup f = log 2, sup over critics C of E[f(C(x) - C(G(z)))] is a relativistic divergence
(Jolicoeur-Martineau 2020, "On relativistic f-divergences"), and D's objective on a batch is
that expectation for its current C: a lower bound, 0 for a D that cannot tell the pair apart
(any constant D) and log 2 when D separates every pair with certainty (disjoint supports).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss

LOG2 = math.log(2.0)


@register_loss("rpgan")
class RelativisticPairingLoss(GANLoss):
    """D: E[softplus(-(D(x) - D(G(z))))]; G: E[softplus(-(D(G(z)) - D(x)))], on pairs.
    `d_real` is D's mean probability σ(Δ) that the real sample of a pair is the more realistic
    one (`d_fake` = 1 - `d_real`): D's raw outputs mean nothing on their own here, since adding
    a constant to D leaves every gap, and so both losses, unchanged."""

    divergence_name = "relativistic_js (log 2 - L_D)"

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        gap = D(real) - D(fake)
        loss = F.softplus(-gap).mean()
        with torch.no_grad():
            p_real = torch.sigmoid(gap).mean()
            return DiscriminatorStep(loss, p_real, 1 - p_real, LOG2 - loss)

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        if real is None:
            raise TypeError(
                "rpgan's G loss compares each generated sample with a real one: "
                "pass the real batch as `real`"
            )
        return F.softplus(D(real.detach()) - D(fake)).mean()
