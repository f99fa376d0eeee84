"""Wasserstein GAN losses (Arjovsky et al. 2017): with D (the critic) 1-Lipschitz,
max_D E[D(x)] - E[D(G(z))] is the earth mover's distance W1, which keeps growing with the distance
between non-overlapping distributions where JS saturates.
"""

from __future__ import annotations

import torch
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||∇D(x̂)||₂ - 1)²] at random interpolates x̂ of real and fake (Gulrajani et al. 2017)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device,
                     dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class WassersteinLoss(GANLoss):
    """The critic's objective without a Lipschitz constraint; subclasses add theirs."""

    divergence_name = "wasserstein"

    def critic_terms(self, D: nn.Module, real: torch.Tensor,
                     fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r, f = D(real).mean(), D(fake).mean()
        return f - r, r, f

    def generator(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return -D(fake).mean()


@register_loss("wgan-gp")
class WGANGPLoss(WassersteinLoss):
    """WGAN with the gradient penalty, weight `loss.gp_weight` (10 in the paper)."""

    def discriminator(self, D: nn.Module, real: torch.Tensor,
                      fake: torch.Tensor) -> DiscriminatorStep:
        neg_w, r, f = self.critic_terms(D, real, fake)
        loss = neg_w + self.cfg.gp_weight * gradient_penalty(D, real, fake)
        return DiscriminatorStep(loss, r.detach(), f.detach(), -neg_w.detach())
