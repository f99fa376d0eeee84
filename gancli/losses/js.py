"""The original GAN game (Goodfellow et al. 2014), whose optimal D ties it to the JS divergence.

D maximises V = E[log D(x)] + E[log(1 - D(G(z)))] with D = sigmoid(score). At the optimum,
V = 2·JS(p_data, p_g) - log 4, so (V + log 4) / 2 estimates JS; it lies in [0, log 2] and sits at
log 2 when the two distributions do not overlap (why JS gives G no signal there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss

LOG4 = math.log(4.0)


class JSGANLoss(GANLoss):
    """D's side is shared by the minimax and non-saturating forms; they differ only in G's loss."""

    divergence_name = "js"
    divergence_ceiling = math.log(2.0)

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        r, f = D(real), D(fake)
        # -log sigmoid(r) = softplus(-r) and -log(1 - sigmoid(f)) = softplus(f): stable forms.
        loss = F.softplus(-r).mean() + F.softplus(f).mean()  # = -V
        with torch.no_grad():
            return DiscriminatorStep(
                loss, torch.sigmoid(r).mean(), torch.sigmoid(f).mean(), (LOG4 - loss) / 2
            )


@register_loss("minimax")
class MinimaxLoss(JSGANLoss):
    """G minimises E[log(1 - D(G(z)))], as the theory writes it (saturates when D wins)."""

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return -F.softplus(D(fake)).mean()


@register_loss("ns")
class NonSaturatingLoss(JSGANLoss):
    """G minimises -E[log D(G(z))]: the same fixed point, strong gradients early on."""

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return F.softplus(-D(fake)).mean()
