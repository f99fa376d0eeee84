"""The divergence each loss's D objective estimates, recovered by training a small critic on two
fixed 1-D distributions whose divergences have closed forms (or a numerical integral).

P = N(0, 1) is the "data", Q = N(1, 1) the "generator". Every critic is the same MLP, trained
with the loss's own `discriminator_step` on large fresh batches for a fixed number of Adam steps
from a fixed seed; its estimate is the loss's `divergence` on 200,000 fresh samples of each. The
tolerances (relative, per loss) are a few times the spread measured over seeds 0-3 and well below
what a wrong activation, conjugate or constant would give (for KL vs reverse KL, whose values
coincide here, `test_conjugates_are_legendre_transforms` tells them apart).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy import integrate, stats
from torch import nn

from gancli.losses import build_loss
from gancli.losses.fgan import F_DIVERGENCES
from gancli.models import apply_spectral_norm

STEPS, BATCH, EVAL = 500, 2048, 200_000
MU_P, MU_Q = 0.0, 1.0


#: f(u) of each divergence, D_f(P||Q) = Σ q·f(p/q) (Nowozin et al. 2016, Table 2); numpy, so
#: it takes scalars and grids alike (test_losses.py checks the estimates on two points).
F_OF_U = {
    "kl": lambda u: u * np.log(u),
    "reverse_kl": lambda u: -np.log(u),
    "pearson": lambda u: (u - 1) ** 2,
    "squared_hellinger": lambda u: (np.sqrt(u) - 1) ** 2,
    "js": lambda u: u * np.log(u) - (u + 1) * np.log((u + 1) / 2),
    "total_variation": lambda u: 0.5 * np.abs(u - 1),
}


def density_integral(fn: Callable[[float, float], float]) -> float:
    """∫ fn(p(x), q(x)) dx for P = N(0, 1), Q = N(1, 1)."""
    return integrate.quad(
        lambda x: fn(stats.norm.pdf(x, MU_P), stats.norm.pdf(x, MU_Q)), -30, 30, limit=200
    )[0]


def kl_to_mixture(a: float, b: float) -> float:
    """a·log(a / m), m = (a + b)/2: one of JS's two terms, as an integrand."""
    return a * math.log(2 * a / (a + b))


JS = 0.5 * density_integral(lambda p, q: kl_to_mixture(p, q) + kl_to_mixture(q, p))
TV = 2 * stats.norm.cdf((MU_Q - MU_P) / 2) - 1  # ½∫|p - q| for equal-variance Gaussians

# Closed forms for N(0, 1) vs N(1, 1), in Nowozin et al.'s convention D_f(P||Q) = ∫ q f(p/q).
F_TRUTH = {
    "kl": 0.5,  # (μ_P - μ_Q)² / 2
    "reverse_kl": 0.5,
    "pearson": math.e - 1,  # ∫ p²/q - 1 = exp((μ_P - μ_Q)²) - 1
    # f(u) = (√u - 1)²: ∫(√p - √q)² = 2(1 - BC), Bhattacharyya BC = exp(-(μ_P - μ_Q)²/8)
    "squared_hellinger": 2 * (1 - math.exp(-1 / 8)),
    "total_variation": TV,  # f(u) = ½|u - 1|
    "js": 2 * JS,  # the paper's f for js integrates to KL(P||M) + KL(Q||M) = 2·JS
}
# Relative tolerances: Pearson's optimal T = 2(p/q - 1) is unbounded in P's left tail, which
# the critic only fits as far as it sees samples, so its estimate falls a few percent short.
F_TOLERANCE = {"pearson": 0.08}


def critic(flat: bool = True) -> nn.Module:
    """1 → 64 → 64 → 1 with LeakyReLU; `flat`: starting as the constant 0.

    Starting flat matters for the gradient penalty in one dimension, where ||∇D|| = |D'|: a
    critic that starts with the wrong slope is pushed to D' = +1 and the two-sided penalty's
    barrier at D' = 0 keeps it there (a spurious optimum at slope 1 - 1/(2λ)). From D' = 0 the
    Wasserstein term alone picks the slope's sign. (Spectral norm needs a nonzero last layer:
    it divides by its singular value.)
    """
    net = nn.Sequential(
        nn.Linear(1, 64),
        nn.LeakyReLU(0.2),
        nn.Linear(64, 64),
        nn.LeakyReLU(0.2),
        nn.Linear(64, 1),
        nn.Flatten(0),
    )
    if flat:
        nn.init.zeros_(net[-2].weight)
        nn.init.zeros_(net[-2].bias)
    return net


def train_critic(
    loss_cfg: dict,
    D: nn.Module | None = None,
    mu_q: float = MU_Q,
    sigma: float = 1.0,
    seed: int = 0,
) -> tuple[float, nn.Module]:
    """Train D on P = N(0, σ²) vs Q = N(mu_q, σ²) with the loss `loss_cfg`; return its
    divergence estimate on fresh samples, and D."""
    torch.manual_seed(seed)
    loss = build_loss(
        OmegaConf.create(
            {
                "r1_gamma": 0.0,
                "r2_gamma": 0.0,  # R1, R2 off
                **loss_cfg,
            }
        )
    )
    D = critic() if D is None else D
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return sigma * torch.randn(n, 1) + MU_P, sigma * torch.randn(n, 1) + mu_q

    for _ in range(STEPS):
        step = loss.discriminator_step(D, *batch(BATCH))
        opt.zero_grad(set_to_none=True)
        step.loss.backward()
        opt.step()
        loss.after_discriminator_step(D)
    return loss.discriminator(D, *batch(EVAL)).divergence.item(), D


@pytest.mark.parametrize("divergence", sorted(F_TRUTH))
def test_fgan_critic_recovers_the_f_divergence(divergence: str) -> None:
    estimate, _ = train_critic({"name": "fgan", "divergence": divergence})
    assert estimate == pytest.approx(F_TRUTH[divergence], rel=F_TOLERANCE.get(divergence, 0.04))


def test_conjugates_are_legendre_transforms() -> None:
    """Each table entry's f*(g_f(v)) equals sup_u [u·g_f(v) - f(u)] for the f the paper names,
    computed on a grid of u: a swapped or mistyped conjugate fails here even where its
    divergence values coincide (KL and reverse KL for this pair of Gaussians)."""
    assert F_OF_U.keys() == F_DIVERGENCES.keys()
    u = np.linspace(0, 60, 300_001)[1:]  # step 2e-4, with u = 1 (TV's kink) on the grid
    v = torch.linspace(-1.5, 1.5, 31, dtype=torch.float64)
    for name, entry in F_DIVERGENCES.items():
        t = entry.activation(v).numpy()
        sup = (u[None, :] * t[:, None] - F_OF_U[name](u)[None, :]).max(axis=1)
        np.testing.assert_allclose(entry.conjugate(v).numpy(), sup, atol=1e-5, err_msg=name)


def test_minimax_critic_recovers_js() -> None:
    """(V + log 4)/2 at D's optimum is JS (Goodfellow et al. 2014, Theorem 1)."""
    estimate, _ = train_critic({"name": "minimax"})
    assert estimate == pytest.approx(JS, rel=0.04)


def test_lsgan_critic_recovers_its_chi2() -> None:
    """2 - 8·L_D at D's optimum is ∫(p - q)²/(p + q) (see gancli.losses.lsgan)."""
    estimate, _ = train_critic({"name": "lsgan"})
    assert estimate == pytest.approx(
        density_integral(lambda p, q: (p - q) ** 2 / (p + q)), rel=0.04
    )


def test_hinge_critic_gap_recovers_twice_tv() -> None:
    """At the hinge optimum D = sign(p - q), the critic gap is ∫|p - q| = 2·TV; the MLP's
    smooth step overshoots the margin a little in the tails, hence the looser tolerance."""
    estimate, _ = train_critic({"name": "hinge"})
    assert estimate == pytest.approx(2 * TV, rel=0.08)


def penalised_w1(distance: float, gp_weight: float) -> float:
    """The critic gap at the optimum of the *penalised* WGAN-GP objective when interpolates are
    spread evenly over the segment between two point masses: per point, slope s maximises
    s - λ(s - 1)²/d, so s = 1 + d/(2λ) and the gap is d + d²/(2λ) → W1 = d as λ → ∞."""
    return distance + distance**2 / (2 * gp_weight)


def test_wgan_gp_critic_recovers_w1() -> None:
    """W1(N(0, 1), N(1, 1)) = |μ_P - μ_Q| = 1; the soft penalty (λ = 10) lets the critic's
    slope exceed 1 by about 1/(2λ), so the estimate sits near 1.05."""
    estimate, _ = train_critic({"name": "wgan-gp", "gp_weight": 10.0})
    assert estimate == pytest.approx(penalised_w1(1.0, 10.0), rel=0.03)
    assert abs(estimate - 1.0) < 0.1


@pytest.mark.slow  # four critics trained to convergence: 35 s of `make test`'s 5 minutes
def test_js_saturates_where_wasserstein_keeps_growing() -> None:
    """The lecture's argument for WGAN: for disjoint supports (N(0, 0.1²) vs N(d, 0.1²)), the
    JS estimate is log 2 whatever d, so it tells G nothing about how far off it is, while the
    W1 estimate grows linearly with d (λ = 100 keeps the penalty's bias at d/(2λ) ≤ 5%)."""
    js, w = {}, {}
    for d in (5.0, 10.0):
        js[d], _ = train_critic({"name": "minimax"}, mu_q=d, sigma=0.1)
        w[d], _ = train_critic({"name": "wgan-gp", "gp_weight": 100.0}, mu_q=d, sigma=0.1)
        assert js[d] == pytest.approx(math.log(2), abs=1e-3)
        assert w[d] == pytest.approx(penalised_w1(d, 100.0), rel=0.03)
    assert w[10.0] / w[5.0] == pytest.approx(2.0, rel=0.05)


def test_weight_clipping_keeps_every_weight_in_bounds() -> None:
    clip = 0.01
    D = critic()
    assert max(p.abs().max().item() for p in D.parameters()) > clip  # the test is not vacuous
    estimate, D = train_critic({"name": "wgan-clip", "clip": clip}, D=D)
    weights = torch.cat([p.detach().flatten() for p in D.parameters()])
    assert weights.abs().max().item() <= clip
    assert (weights.abs() == clip).any()  # the bound is active, not merely unreached
    assert 0 < estimate < 1  # a clipped critic is far less than 1-Lipschitz: it underestimates


def test_spectral_norm_keeps_each_layer_at_unit_norm() -> None:
    """After training with one power iteration per step, each normalised weight's largest
    singular value is 1, so the LeakyReLU critic is 1-Lipschitz and its gap cannot exceed W1."""
    estimate, D = train_critic({"name": "wgan-sn"}, D=apply_spectral_norm(critic(flat=False)))
    D.eval()  # read the weights with the stored singular vectors, without another iteration
    layers = [m for m in D.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 3
    with torch.no_grad():
        for layer in layers:
            assert torch.linalg.matrix_norm(layer.weight, ord=2).item() == pytest.approx(
                1.0, abs=0.01
            )
    assert 0.8 < estimate < 1.0 + 0.02  # ≤ W1 = 1 up to the sampling noise of 200k samples
