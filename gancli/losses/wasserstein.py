"""Wasserstein GAN losses (Arjovsky et al. 2017): with D (the critic) 1-Lipschitz,
max_D E[D(x)] - E[D(G(z))] is the earth mover's distance W1, which keeps growing with the distance
between non-overlapping distributions where JS saturates.

The variants differ only in how they keep the critic (about) 1-Lipschitz: clipping its weights,
penalising its gradient norm (two-sided or one-sided), or spectrally normalising its layers.
"""

from __future__ import annotations

import torch
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss, input_gradient


def gradient_penalty(
    D: nn.Module, real: torch.Tensor, fake: torch.Tensor, one_sided: bool = False
) -> torch.Tensor:
    """E[(||∇D(x̂)||₂ - 1)²] at random interpolates x̂ of real and fake (Gulrajani et al. 2017).

    `one_sided` penalises only norms above 1, E[max(0, ||∇D(x̂)|| - 1)²] (Petzka et al. 2018):
    the Lipschitz constraint asks for ||∇D|| <= 1, not = 1, and the one-sided form is the
    penalty that matches it.
    """
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    gap = input_gradient(D, eps * real + (1 - eps) * fake).norm(dim=1) - 1
    if one_sided:
        gap = gap.clamp(min=0)
    return (gap**2).mean()


class WassersteinLoss(GANLoss):
    """The critic's objective -(E[D(x)] - E[D(G(z))]) plus `penalty`, the subclass's Lipschitz
    term (none by default: those subclasses constrain D by other means)."""

    divergence_name = "wasserstein"
    outputs_near_one_and_zero = False

    def penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | float:
        return 0.0

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        r, f = D(real).mean(), D(fake).mean()
        loss = f - r + self.penalty(D, real, fake)
        return DiscriminatorStep(loss, r.detach(), f.detach(), (r - f).detach())

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return -D(fake).mean()


@register_loss("wgan-clip")
class WGANClipLoss(WassersteinLoss):
    """The original WGAN: after every D update each weight is clipped to [-c, c], c =
    `loss.clip` (0.01 in the paper). A crude way to bound the Lipschitz constant: the bound it
    gives is loose and biases the critic towards simple functions (Gulrajani et al. 2017)."""

    def after_discriminator_step(self, D: nn.Module) -> None:
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-self.cfg.clip, self.cfg.clip)


@register_loss("wgan-gp")
class WGANGPLoss(WassersteinLoss):
    """WGAN with the gradient penalty, weight `loss.gp_weight` (10 in the paper)."""

    one_sided = False

    @property
    def double_backward(self) -> bool:
        return super().double_backward or self.cfg.gp_weight > 0

    def penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.cfg.gp_weight * gradient_penalty(D, real, fake, self.one_sided)


@register_loss("wgan-lp")
class WGANLPLoss(WGANGPLoss):
    """WGAN-LP (Petzka et al. 2018, "On the regularization of Wasserstein GANs"): the one-sided
    penalty, weight `loss.gp_weight`, which leaves critics with gradient norm below 1 alone."""

    one_sided = True


@register_loss("wgan-sn")
class WGANSNLoss(WassersteinLoss):
    """WGAN whose critic is kept Lipschitz by spectral normalisation of each layer (Miyato et al.
    2018): every layer's largest singular value is 1, so with 1-Lipschitz activations the whole
    critic is at most 1-Lipschitz, at the cost of one power iteration per layer and step."""

    needs_spectral_norm = True
