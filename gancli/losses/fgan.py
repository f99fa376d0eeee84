"""f-GAN (Nowozin et al. 2016): any f-divergence D_f(P||Q) = ∫ q·f(p/q) can be minimised by a
GAN, through its variational lower bound (Nguyen et al. 2010)

    D_f(P||Q) >= sup_T E_P[T(x)] - E_Q[f*(T(x))],

with f* the convex conjugate of f and P = data, Q = generator. T = g_f(V(x)), where V is D's
raw output and g_f an output activation that maps onto the domain of f*. D maximises the bound,
so its objective value on a batch *is* the divergence estimate, a lower bound that is tight at
the optimal T = f'(p/q).

`loss.divergence` picks f; each entry of `F_DIVERGENCES` is its (g_f, f*) pair from the paper's
Table 2. f* is stored composed with g_f, as a function of V, in an algebraically equal form that
stays finite for large |V| (e.g. for js, -log(2 - exp(g_f(v))) = softplus(v) - log 2, where the
direct form loses 2 - exp(t) to rounding once v > ~17).

G uses the paper's "alternative" objective (its Section 3.2): it maximises E_Q[g_f(V(G(z)))]
instead of minimising the bound's -E_Q[f*(g_f(V(G(z))))], the same fixed point with stronger
gradients early on, as the non-saturating GAN does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gancli.losses import register_loss
from gancli.losses.base import DiscriminatorStep, GANLoss
from gancli.registry import Registry

LOG2 = math.log(2.0)
Fn = Callable[[torch.Tensor], torch.Tensor]


class FDivergence(NamedTuple):
    """One row of Nowozin et al.'s Table 2, as functions of D's raw output v."""

    activation: Fn  # T = g_f(v), onto dom f*
    conjugate: Fn  # f*(g_f(v))


F_DIVERGENCES: Registry[FDivergence] = Registry("f-divergence (loss.divergence)")
F_DIVERGENCES.update(
    {
        # KL(P||Q): f(u) = u log u; g_f(v) = v; f*(t) = exp(t - 1).
        "kl": FDivergence(lambda v: v, lambda v: torch.exp(v - 1)),
        # KL(Q||P): f(u) = -log u; g_f(v) = -exp(-v); f*(t) = -1 - log(-t) = v - 1.
        "reverse_kl": FDivergence(lambda v: -torch.exp(-v), lambda v: v - 1),
        # Pearson χ²: f(u) = (u - 1)²; g_f(v) = v; f*(t) = t²/4 + t.
        "pearson": FDivergence(lambda v: v, lambda v: v.pow(2) / 4 + v),
        # Squared Hellinger: f(u) = (√u - 1)²; g_f(v) = 1 - exp(-v); f*(t) = t/(1 - t) = exp(v) - 1.
        "squared_hellinger": FDivergence(lambda v: 1 - torch.exp(-v), lambda v: torch.exp(v) - 1),
        # f(u) = u log u - (u + 1) log((u + 1)/2), whose D_f is 2·JS(P, Q) (∫ q·f(p/q) =
        # KL(P||M) + KL(Q||M), M = (P + Q)/2), so the estimate lies in [0, 2 log 2];
        # g_f(v) = log 2 - log(1 + exp(-v)); f*(t) = -log(2 - exp(t)) = softplus(v) - log 2.
        "js": FDivergence(lambda v: LOG2 - F.softplus(-v), lambda v: F.softplus(v) - LOG2),
        # Total variation: f(u) = ½|u - 1|; g_f(v) = ½ tanh(v); f*(t) = t on |t| <= ½.
        "total_variation": FDivergence(
            lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)
        ),
    }
)


@register_loss("fgan")
class FGANLoss(GANLoss):
    """D maximises E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))], the f-divergence `loss.divergence`'s
    lower bound; G maximises E_Q[g_f(V(G(z)))]. `d_real` / `d_fake` are mean T values."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.f = F_DIVERGENCES.lookup(cfg.divergence)
        self.divergence_name = cfg.divergence

    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        v_real, v_fake = D(real), D(fake)
        t_real = self.f.activation(v_real)
        loss = self.f.conjugate(v_fake).mean() - t_real.mean()  # = -bound
        with torch.no_grad():
            return DiscriminatorStep(loss, t_real.mean(), self.f.activation(v_fake).mean(), -loss)

    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        return -self.f.activation(D(fake)).mean()
