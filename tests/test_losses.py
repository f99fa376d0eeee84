"""Losses: the divergence estimates their D objectives imply, and the generators' gradients."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gancli.losses import build_loss
from gancli.losses.wasserstein import gradient_penalty


class Const(nn.Module):
    """A 'discriminator' returning fixed logits for real (x > 0) and fake (x <= 0) inputs."""

    def __init__(self, real: float, fake: float) -> None:
        super().__init__()
        self.real, self.fake = real, fake

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.flatten(1)[:, 0] > 0, self.real, self.fake)


def loss(name: str):
    return build_loss(OmegaConf.create({"name": name, "gp_weight": 10.0}))


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


def test_wgan_estimate_is_critic_gap() -> None:
    step = loss("wgan-gp").discriminator(nn.Linear(1, 1, bias=False).requires_grad_(True),
                                         real, fake)
    assert step.divergence.item() == pytest.approx(step.d_real.item() - step.d_fake.item())


def test_gradient_penalty_zero_for_unit_slope_and_positive_otherwise() -> None:
    unit = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([[0.6, 0.8]]))  # ||grad|| = 1 everywhere
    r, f = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(unit, r, f).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        unit.weight.mul_(3)  # ||grad|| = 3 → penalty (3 - 1)^2 = 4
    assert gradient_penalty(unit, r, f).item() == pytest.approx(4.0)
