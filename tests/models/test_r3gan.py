"""model=r3gan (Huang et al. 2024): sized from the data, blocks that start as the identity with
Fix-up scaled branches, no normalisation, a D twice differentiable for R1/R2, and training with
its own loss and with class conditioning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.models import build_models
from gancli.models.r3gan import LEAKY_GAIN, Resample, ResidualBlock
from gancli.training.loop import Trainer
from tests.conftest import TINY, compose_train


def cfg(width: int = 16, blocks: int = 1, **extra):
    return OmegaConf.create(
        {
            "name": "r3gan",
            "width": width,
            "blocks_per_stage": blocks,
            "expansion": 2,
            "group_size": 16,
            **extra,
        }
    )


def image(channels: int, side: int) -> DataInfo:
    return DataInfo("x", "image", (channels, side, side), 10)


@pytest.mark.parametrize("side", [16, 32])
@pytest.mark.parametrize("channels", [1, 3])
@torch.no_grad()
def test_sized_to_resolution_and_channels(side: int, channels: int) -> None:
    G, D = build_models(cfg(), image(channels, side), 12)
    x = G(torch.randn(4, 12))
    assert x.shape == (4, channels, side, side) and x.abs().max() <= 1  # tanh: data's range
    h = D.features(x)
    assert h.shape == (4, 16) and D(x).shape == (4,)
    assert torch.allclose(D.score(h), D(x))


@pytest.mark.parametrize("side", [4, 12, 24])
def test_rejects_bad_resolution(side: int) -> None:
    with pytest.raises(GancliError, match="power of 2 and at least 8"):
        build_models(cfg(), image(1, side), 12)


def test_rejects_a_width_the_groups_do_not_divide() -> None:
    with pytest.raises(GancliError, match="multiple of"):
        build_models(cfg(width=12), image(1, 16), 12)


@torch.no_grad()
def test_blocks_start_as_identity_with_fixup_scaled_branches() -> None:
    """Each block's last conv is zero: block(x) = x. The others are He-initialised scaled by
    L^(-1/4), L = 2 blocks × 4 resolutions (4..32) = 8, so the sum of residuals keeps its
    variance (Fix-up, m = 3 layers per branch)."""
    G, D = build_models(cfg(width=64, blocks=2), image(3, 32), 12)
    for net in (G, D):
        blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
        assert len(blocks) == 8
        x = torch.randn(2, 64, 8, 8)
        for block in blocks:
            assert torch.equal(block(x), x)
        first = blocks[0].branch[0].weight
        expected = LEAKY_GAIN * 8**-0.25 / math.sqrt(64)
        assert first.std().item() == pytest.approx(expected, rel=0.05)
        assert blocks[0].branch[2].groups == 128 // 16


def test_no_normalisation_layer_even_with_d_norm() -> None:
    norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    for d_norm in ("batch", "layer"):
        G, D = build_models(cfg(d_norm=d_norm), image(1, 16), 12)
        assert not [m for m in [*G.modules(), *D.modules()] if isinstance(m, norms)]


def test_resampling_keeps_a_constant_image() -> None:
    """The [1,3,3,1] kernel sums to 1 down and to 4 up (one pixel in four is non-zero after
    zero insertion): a constant stays that constant away from the zero-padded border."""
    x = torch.full((1, 2, 8, 8), 3.0)
    up, down = Resample(up=True)(x), Resample(up=False)(x)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[..., 1:-1, 1:-1], x.new_tensor(3.0))
    assert torch.allclose(down[..., 1:-1, 1:-1], x.new_tensor(3.0))


def test_d_is_twice_differentiable() -> None:
    """R1/R2 back-propagate through D's input gradient."""
    _, D = build_models(cfg(), image(1, 16), 12)
    x = torch.randn(3, 1, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    grad.square().sum().backward()
    assert all(p.grad is not None for p in D.parameters())
    assert any(p.grad.abs().sum() > 0 for p in D.parameters())


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["loss=rpgan", "loss.r1_gamma=0.1", "loss.r2_gamma=0.1"],
        ["conditioning=class", "conditioning.g=concat", "conditioning.d=projection"],
    ],
)
def test_trains(overrides: list[str], tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(*TINY, "model=r3gan", "data.resolution=16", *overrides), tmp_path
    )
    stats = trainer.train_step(measure=True)
    assert all(bool(torch.isfinite(stats[k])) for k in ("loss_d", "loss_g", "divergence"))


def test_class_conditioning_reaches_both_players(tmp_path: Path) -> None:
    config = compose_train(
        *TINY, "model=r3gan", "data.resolution=16", "conditioning=class", "conditioning.g=concat"
    )
    trainer = Trainer(config, tmp_path)
    G, D = trainer.gan.G.eval(), trainer.gan.D.eval()
    z = torch.randn(4, G.base.fc.in_features - config.conditioning.embed_dim)
    c = torch.arange(4)
    with torch.no_grad():
        x = G(z, c)
        assert not torch.allclose(x, G(z, c.flip(0)))
        assert not torch.allclose(D(x, c), D(x, c.flip(0)))


def test_conditional_batch_norm_is_refused(tmp_path: Path) -> None:
    """R3GAN has no batch norm for conditioning.g=cbn (conditioning=class's default)."""
    with pytest.raises(GancliError, match="conditioning.g=concat"):
        Trainer(
            compose_train(*TINY, "model=r3gan", "data.resolution=16", "conditioning=class"),
            tmp_path,
        )
