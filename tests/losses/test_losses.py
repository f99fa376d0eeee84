"""Losses: the divergence estimates their D objectives imply, and the generators' gradients."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn.utils import parametrize

from gancli.conditioning.base import Batch
from gancli.errors import GancliError
from gancli.losses import LOSSES, build_loss
from gancli.losses.base import zero_centred_penalty
from gancli.losses.fgan import F_DIVERGENCES
from gancli.losses.wasserstein import gradient_penalty
from gancli.training.loop import Trainer
from tests.conftest import TINY, compose_train
from tests.losses.test_divergences import F_OF_U


class Const(nn.Module):
    """A 'discriminator' returning fixed logits for real (x > 0) and fake (x <= 0) inputs."""

    def __init__(self, real: float, fake: float) -> None:
        super().__init__()
        self.real, self.fake = real, fake

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.flatten(1)[:, 0] > 0, self.real, self.fake)


def loss(name: str, **cfg: object):
    """The loss `name` with λ = 10 and no R1 or R2 unless `cfg` says otherwise."""
    return build_loss(
        OmegaConf.create(
            {
                "name": name,
                "gp_weight": 10.0,
                "r1_gamma": 0.0,
                "r1_every": 1,
                "r2_gamma": 0.0,
                "r2_every": 1,
                **cfg,
            }
        )
    )


real, fake = torch.ones(8, 1), -torch.ones(8, 1)


@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_js_estimate_zero_when_d_cannot_tell(name: str) -> None:
    step = loss(name).discriminator(Const(0.0, 0.0), real, fake)  # D = 1/2 everywhere
    assert step.loss.item() == pytest.approx(math.log(4))
    assert step.divergence.item() == pytest.approx(0.0, abs=1e-6)
    assert step.d_real.item() == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["ns", "minimax"])
def test_js_estimate_saturates_at_log2_when_d_separates(name: str) -> None:
    step = loss(name).discriminator(Const(30.0, -30.0), real, fake)
    assert step.divergence.item() == pytest.approx(math.log(2), abs=1e-6)
    assert step.d_real.item() == pytest.approx(1.0) and step.d_fake.item() == pytest.approx(0.0)


def test_minimax_saturates_where_ns_does_not() -> None:
    """When D confidently rejects fakes, log(1 - D) has a vanishing gradient; -log D does not."""
    grads = {}
    for name in ("minimax", "ns"):
        logit = torch.tensor([-8.0], requires_grad=True)
        loss(name).generator(lambda x, logit=logit: logit, fake).backward()
        grads[name] = logit.grad.abs().item()
    assert grads["minimax"] < 1e-3 < 0.99 < grads["ns"]


@pytest.mark.parametrize(
    "name, penalty", [("wgan-clip", 0.0), ("wgan-gp", 1.6), ("wgan-lp", 0.0), ("wgan-sn", 0.0)]
)
def test_wasserstein_estimate_is_the_critic_gap_without_the_penalty(
    name: str, penalty: float
) -> None:
    """The critic D(x) = 0.6·x on real = +1, fake = -1: the gap E D(x) - E D(G(z)) is 1.2.
    D minimises minus the gap plus its penalty: λ(||∇D|| - 1)² = 10·0.4² = 1.6 for GP, 0 for
    LP (a slope below 1) and for the losses without one; the estimate leaves it out."""
    D = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Flatten(0))
    with torch.no_grad():
        D[0].weight.fill_(0.6)
    step = loss(name).discriminator(D, real, fake)
    assert (step.d_real.item(), step.d_fake.item()) == pytest.approx((0.6, -0.6))
    assert step.divergence.item() == pytest.approx(1.2)
    assert step.loss.item() == pytest.approx(-1.2 + penalty)
    assert loss(name).generator(D, fake).item() == pytest.approx(0.6)  # G raises D(G(z))


def test_gradient_penalty_zero_for_unit_slope_and_positive_otherwise() -> None:
    unit = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([[0.6, 0.8]]))  # ||grad|| = 1 everywhere
    r, f = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(unit, r, f).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        unit.weight.mul_(3)  # ||grad|| = 3 → penalty (3 - 1)^2 = 4
    assert gradient_penalty(unit, r, f).item() == pytest.approx(4.0)


def test_one_sided_penalty_ignores_slopes_below_one() -> None:
    """WGAN-LP's penalty (Petzka et al. 2018) only charges ||grad|| > 1; GP charges both sides."""
    lin = nn.Linear(2, 1, bias=False)
    r, f = torch.randn(16, 2), torch.randn(16, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.3, 0.4]]))  # ||grad|| = 0.5
    assert gradient_penalty(lin, r, f).item() == pytest.approx(0.25)
    assert gradient_penalty(lin, r, f, one_sided=True).item() == 0.0
    with torch.no_grad():
        lin.weight.mul_(6)  # ||grad|| = 3: both penalise (3 - 1)^2
    assert gradient_penalty(lin, r, f, one_sided=True).item() == pytest.approx(4.0)


def test_lsgan_formulas_and_estimate() -> None:
    step = loss("lsgan").discriminator(Const(0.5, -0.5), real, fake)
    assert step.loss.item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)
    assert (step.d_real.item(), step.d_fake.item()) == (0.5, -0.5)  # raw D outputs
    assert loss("lsgan").generator(Const(0.5, -0.5), fake).item() == pytest.approx(0.5 * 2.25)
    # D = 1/2 everywhere is optimal for p_d = p_g: the chi^2 estimate 2 - 8 L_D is 0 ...
    assert loss("lsgan").discriminator(Const(0.5, 0.5), real, fake).divergence.item() == 0.0
    # ... and a perfect separator (1 on real, 0 on fake) gives the maximum, 2.
    assert loss("lsgan").discriminator(Const(1.0, 0.0), real, fake).divergence.item() == 2.0


def test_hinge_formulas_and_critic_gap() -> None:
    step = loss("hinge").discriminator(Const(0.5, -0.3), real, fake)
    assert step.loss.item() == pytest.approx(0.5 + 0.7)  # relu(1 - 0.5) + relu(1 - 0.3)
    assert step.divergence.item() == pytest.approx(0.8)
    beyond = loss("hinge").discriminator(Const(3.0, -3.0), real, fake)
    assert beyond.loss.item() == 0.0 and beyond.divergence.item() == pytest.approx(6.0)
    assert loss("hinge").generator(Const(0.5, -0.3), fake).item() == pytest.approx(0.3)


def test_rpgan_formulas_and_estimate() -> None:
    """A pair gap D(x) - D(G(z)) = log 3: D's loss softplus(-log 3) = log(4/3), σ(log 3) = 3/4,
    the estimate log 2 - log(4/3) = log(3/2); G's loss softplus(log 3) = log 4, real batch and
    all. No gap: the estimate is 0; a decisive D: log 2."""
    rp, D = loss("rpgan"), Const(math.log(3) + 5.0, 5.0)  # only the gap counts
    step = rp.discriminator(D, real, fake)
    assert step.loss.item() == pytest.approx(math.log(4 / 3))
    assert (step.d_real.item(), step.d_fake.item()) == pytest.approx((0.75, 0.25))
    assert step.divergence.item() == pytest.approx(math.log(1.5))
    assert rp.generator(D, fake, real=real).item() == pytest.approx(math.log(4))
    assert rp.discriminator(Const(2.0, 2.0), real, fake).divergence.item() == 0.0
    assert rp.discriminator(Const(30.0, -30.0), real, fake).divergence.item() == pytest.approx(
        math.log(2)
    )
    with pytest.raises(TypeError, match="real batch"):
        rp.generator(D, fake)


def test_rpgan_pairs_samples_by_position() -> None:
    """D(x) = x on real (1, 3) and fake (0, 2): the pairs' gaps are (1, 1), not the four
    cross-pairs' (1, 3, -1, 1)."""
    D = nn.Flatten(0)
    r, f = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [2.0]])
    assert loss("rpgan").discriminator(D, r, f).loss.item() == pytest.approx(
        math.log1p(math.exp(-1))
    )
    assert loss("rpgan").generator(D, f, real=r).item() == pytest.approx(math.log1p(math.e))


def test_rpgan_estimate_at_the_optimal_critic_is_the_relativistic_divergence() -> None:
    """P = (3/4, 1/4) and Q = (1/4, 3/4) on the points +1, -1, every real sample paired with
    every fake one: the gap t = C(+1) - C(-1) is D's only freedom, and with
    f(t) = log σ(t) + log 2, E[f] = 9/16·f(t) + 1/16·f(-t), largest at σ(t) = 9/10: the
    divergence 9/16·log 1.8 + 1/16·log 0.2, which D's estimate must reach and not exceed."""
    p = torch.tensor([[1.0], [1.0], [1.0], [-1.0]], dtype=torch.float64)
    q = -p
    r, f = p.repeat_interleave(4, dim=0), q.repeat(4, 1)  # all 16 pairs
    truth = 9 / 16 * math.log(1.8) + 1 / 16 * math.log(0.2)
    rp, D = loss("rpgan"), TwoPointCritic()
    assert rp.discriminator(D, r, f).divergence.item() == 0.0  # D = 0: cannot tell
    optimal_critic(rp, D, r, f, max_iter=200)
    assert rp.discriminator(D, r, f).divergence.item() == pytest.approx(truth, rel=1e-6)
    assert (D.v[0] - D.v[1]).item() == pytest.approx(math.log(9), rel=1e-4)


def test_fgan_rejects_unknown_divergence_listing_the_valid_ones() -> None:
    with pytest.raises(GancliError) as err:
        loss("fgan", divergence="wasserstein")
    assert all(name in str(err.value) for name in F_DIVERGENCES)


def optimal_critic(
    gan_loss, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, **lbfgs: float
) -> None:
    """Train `D` to its optimum for `gan_loss` on these two fixed batches (L-BFGS: a
    two-parameter critic converges in one call)."""
    opt = torch.optim.LBFGS(D.parameters(), line_search_fn="strong_wolfe", **lbfgs)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        step = gan_loss.discriminator(D, real, fake)
        step.loss.backward()
        return step.loss

    opt.step(closure)


class TwoPointCritic(nn.Module):
    """A critic on the two points +1 and -1: one free raw output for each."""

    def __init__(self) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.zeros(2, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, 0] > 0, self.v[0], self.v[1])


@pytest.mark.parametrize("divergence", sorted(F_DIVERGENCES))
def test_fgan_estimate_at_the_optimal_critic_is_the_f_divergence(divergence: str) -> None:
    """P = (3/4, 1/4) and Q = (1/4, 3/4) on the points +1, -1 (batches in those proportions):
    a critic there is two numbers, so D's optimum is found exactly, and the variational bound
    D reports must be tight there, D_f(P||Q) = ¼·f(3) + ¾·f(1/3), and below it elsewhere."""
    p = torch.tensor([[1.0], [1.0], [1.0], [-1.0]], dtype=torch.float64)
    q = -p.flip(0)
    truth = 0.25 * F_OF_U[divergence](3.0) + 0.75 * F_OF_U[divergence](1 / 3)
    fgan, D = loss("fgan", divergence=divergence), TwoPointCritic()
    assert fgan.discriminator(D, p, q).divergence.item() < truth - 0.01  # D = 0: not optimal
    optimal_critic(fgan, D, p, q, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15)
    assert fgan.discriminator(D, p, q).divergence.item() == pytest.approx(truth, rel=1e-6)


def test_r1_adds_half_gamma_times_squared_gradient_norm() -> None:
    """A linear D has gradient w everywhere: R1 = gamma/2 * ||w||^2, here 3/2 * 4 = 6."""
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.2, 1.6]]))  # ||w|| = 2
    D = nn.Sequential(lin, nn.Flatten(0))
    r, f = torch.randn(16, 2), torch.randn(16, 2)
    plain = loss("ns").discriminator(D, r, f)
    with_r1 = loss("ns", r1_gamma=3.0).discriminator_step(D, r, f)
    assert with_r1.loss.item() == pytest.approx(plain.loss.item() + 6.0)
    assert with_r1.divergence.item() == pytest.approx(plain.divergence.item())  # not the game's
    assert loss("ns").discriminator_step(D, r, f).loss.item() == pytest.approx(plain.loss.item())
    with_r1.loss.backward()  # the penalty is differentiable in D's weights (double backprop)
    assert lin.weight.grad is not None


def test_lazy_r1_falls_on_every_kth_d_update_scaled_by_k(tmp_path: Path) -> None:
    """r1_every=4: updates 0, 4, 8 carry 4 × the penalty (here 4 × 6), the others none."""
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.2, 1.6]]))
    D = nn.Sequential(lin, nn.Flatten(0))
    r, f = torch.randn(16, 2), torch.randn(16, 2)
    plain = loss("ns").discriminator(D, r, f).loss.item()
    lazy = loss("ns", r1_gamma=3.0, r1_every=4)
    added = []
    for _ in range(9):
        added.append(round(lazy.discriminator_step(D, r, f).loss.item() - plain, 4))
        lazy.discriminator_updated(D)
    assert added == [24.0, 0, 0, 0, 24.0, 0, 0, 0, 24.0]
    # The loop counts D updates, n_critic per step (resume: tests/test_checkpoint.py).
    cfg = compose_train(*TINY, "train.n_critic=2", "loss.r1_gamma=1", "loss.r1_every=4")
    trainer = Trainer(cfg, tmp_path)
    trainer.train_step(measure=False)
    trainer.train_step(measure=False)
    assert trainer.loss.d_updates == 4


def half_square(x: torch.Tensor) -> torch.Tensor:
    """D(x) = x²/2 of the first feature: its input gradient is x itself, 1 on the real batch
    below and -3 on the fake one, so R1 and R2 differ."""
    return 0.5 * x[:, 0] ** 2


r_one, f_three = torch.ones(16, 1), -3 * torch.ones(16, 1)


def test_r2_adds_half_gamma_times_squared_gradient_norm_on_fakes() -> None:
    """γ = 2: R2 = γ/2·E[||∇D(G(z))||²] = 9 on the fake batch, R1 = 1 on the real one; both
    leave the estimate alone, and either makes D's loss a double backward (train.compile)."""
    plain = loss("ns").discriminator(half_square, r_one, f_three)
    added = {
        key: loss("ns", **cfg).discriminator_step(half_square, r_one, f_three).loss.item()
        - plain.loss.item()
        for key, cfg in {
            "r2": {"r2_gamma": 2.0},
            "r1": {"r1_gamma": 2.0},
            "both": {"r1_gamma": 2.0, "r2_gamma": 2.0},
        }.items()
    }
    assert added == pytest.approx({"r2": 9.0, "r1": 1.0, "both": 10.0})
    with_r2 = loss("ns", r2_gamma=2.0).discriminator_step(half_square, r_one, f_three)
    assert with_r2.divergence.item() == pytest.approx(plain.divergence.item())
    assert loss("ns", r2_gamma=2.0).double_backward and not loss("ns").double_backward
    lin = nn.Linear(1, 1)
    loss("ns", r2_gamma=2.0).discriminator_step(
        nn.Sequential(lin, nn.Flatten(0)), r_one, f_three
    ).loss.backward()
    assert lin.weight.grad is not None  # differentiable in D's weights (double backprop)


def test_lazy_r2_falls_on_every_kth_d_update_scaled_by_k_apart_from_r1() -> None:
    """r2_every=3 (3 × 9 on updates 0, 3, 6) beside r1_every=2 (2 × 1 on even updates)."""
    plain = loss("ns").discriminator(half_square, r_one, f_three).loss.item()
    lazy = loss("ns", r1_gamma=2.0, r1_every=2, r2_gamma=2.0, r2_every=3)
    added = []
    for _ in range(7):
        step = lazy.discriminator_step(half_square, r_one, f_three)
        added.append(round(step.loss.item() - plain, 4))
        lazy.discriminator_updated(half_square)
    assert added == [29.0, 0, 2.0, 27.0, 2.0, 0, 29.0]


def test_rpgan_with_r1_and_r2_trains(tmp_path: Path) -> None:
    """The R3GAN recipe's pieces together on the tiny run; the conditioning hands G's step the
    real batch (a Const critic: G's loss softplus(D(x) - D(G(z))) = softplus(log 3))."""
    trainer = Trainer(
        compose_train(*TINY, "loss=rpgan", "loss.r1_gamma=0.1", "loss.r2_gamma=0.1"), tmp_path
    )
    for _ in range(2):
        stats = trainer.train_step(measure=True)
        assert all(
            torch.isfinite(stats[k])
            for k in ("loss_d", "loss_g", "divergence", "grad_norm_d", "grad_norm_g")
        )
    assert trainer.loss.double_backward and trainer.loss.d_updates == 2
    g = trainer.conditioning.generator_loss(
        trainer.loss, Const(math.log(3), 0.0), Batch(real), fake
    )
    assert g.item() == pytest.approx(math.log(4))


def is_spectrally_normalised(D: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in D.modules())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_trains_one_step(name: str, tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, f"loss={name}"), tmp_path)
    stats = trainer.train_step(measure=True)
    assert all(torch.isfinite(stats[k]) for k in ("loss_d", "loss_g", "divergence"))
    assert is_spectrally_normalised(trainer.gan.D) == LOSSES[name].needs_spectral_norm


@pytest.mark.parametrize(
    "overrides",
    [
        ["loss=fgan", "loss.divergence=js"],
        ["loss=ns", "loss.r1_gamma=10"],
        ["loss=hinge", "model.spectral_norm=true"],
    ],
)
def test_loss_options_train_one_step(overrides: list[str], tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, *overrides), tmp_path)
    stats = trainer.train_step(measure=True)
    assert all(torch.isfinite(stats[k]) for k in ("loss_d", "loss_g", "divergence"))
    assert is_spectrally_normalised(trainer.gan.D) == ("model.spectral_norm=true" in overrides)


def test_trainer_clips_d_after_its_update(tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, "loss=wgan-clip", "loss.clip=0.02"), tmp_path)
    trainer.train_step(measure=False)
    assert max(p.abs().max().item() for p in trainer.gan.D.parameters()) <= 0.02


def finite_difference_grad(D: nn.Module, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """∇ₓ D(x) per sample by central differences, one input coordinate at a time."""
    grads = torch.zeros_like(x)
    with torch.no_grad():
        for j in range(x.shape[1]):
            step = torch.zeros_like(x)
            step[:, j] = h
            grads[:, j] = (D(x + step) - D(x - step)).flatten() / (2 * h)
    return grads


def test_the_penalties_match_finite_differences_of_a_nonlinear_critic() -> None:
    """R1/R2's E||∇D||² and WGAN-GP's E(||∇D(x̂)||−1)² (at x̂ = the given points, as the
    interpolates are drawn at random) against gradients measured without autograd."""
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))
    x = torch.randn(32, 3)
    # The penalties compute in fp32; the differences are taken in fp64 on a copy of D.
    norms = finite_difference_grad(copy.deepcopy(D).double(), x.double()).norm(dim=1)
    assert zero_centred_penalty(D, x).item() == pytest.approx(norms.pow(2).mean().item(), rel=1e-5)
    same = gradient_penalty(D, x, x)  # interpolates between a batch and itself: the batch
    assert same.item() == pytest.approx((norms - 1).pow(2).mean().item(), rel=1e-4)
