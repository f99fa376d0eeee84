"""Architectures: sized from the data, right output shapes and ranges, clear errors."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.models import build_models


def cfg(name: str, width: int = 8):
    return OmegaConf.create({"name": name, "width": width, "depth": 2})


@pytest.mark.parametrize("res, channels", [(8, 1), (16, 1), (32, 3), (64, 1)])
def test_dcgan_sized_to_resolution_and_channels(res: int, channels: int) -> None:
    info = DataInfo("x", "image", (channels, res, res), 10)
    G, D = build_models(cfg("dcgan"), info, latent_dim=100)
    x = G(torch.randn(4, 100))
    assert x.shape == (4, channels, res, res)
    assert x.abs().max() <= 1  # tanh: the data's [-1, 1] range
    assert D(x).shape == (4,)


def test_dcgan_matches_pytorch_examples_at_64() -> None:
    G, D = build_models(cfg("dcgan", 64), DataInfo("x", "image", (3, 64, 64), 10), 100)
    widths = [m.out_channels for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]
    widths = [m.out_channels for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths == [64, 128, 256, 512, 1]


@pytest.mark.parametrize("res", [4, 12, 28])
def test_dcgan_rejects_bad_resolution(res: int) -> None:
    with pytest.raises(GancliError, match="power of 2 and at least 8"):
        build_models(cfg("dcgan"), DataInfo("x", "image", (1, res, res), 10), 100)


def scale_output_layer(G: torch.nn.Module, factor: float) -> None:
    """Multiply the weights and bias of G's last linear layer by `factor`."""
    last = [m for m in G.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(factor)
        last.bias.mul_(factor)


@torch.no_grad()
def test_mlp_points_are_unbounded_and_images_in_range() -> None:
    """Points come straight from G's last linear layer (the mixtures' modes lie outside
    [-1, 1]): scaling that layer scales the points. Images go through tanh: they stay in the
    data's [-1, 1] however large the layer's output."""
    z = torch.randn(5, 2)
    G, D = build_models(cfg("mlp"), DataInfo("ring8", "points", (2,), 8), 2)
    pts = G(z)
    assert pts.shape == (5, 2) and D(pts).shape == (5,)
    scale_output_layer(G, 100.0)
    assert torch.allclose(G(z), 100 * pts, rtol=1e-4, atol=1e-5)
    assert G(z).abs().max() > 1
    G, D = build_models(cfg("mlp"), DataInfo("digits", "image", (1, 8, 8), 10), 16)
    z = torch.randn(3, 16)
    img = G(z)
    assert img.shape == (3, 1, 8, 8) and img.abs().max() <= 1 and D(img).shape == (3,)
    scale_output_layer(G, 100.0)
    saturated = G(z)
    assert saturated.abs().max() <= 1 and saturated.abs().max() > img.abs().max()


def test_unknown_model_lists_registry() -> None:
    with pytest.raises(GancliError, match="choose one of: dcgan, mlp, pix2pix, r3gan, resnet"):
        build_models(cfg("stylegan9"), DataInfo("x", "image", (1, 8, 8), 10), 4)


@pytest.mark.parametrize("res", [8, 16, 32, 64])
def test_resnet_any_power_of_two(res: int) -> None:
    G, D = build_models(cfg("resnet"), DataInfo("x", "image", (3, res, res), 10), 16)
    x = G(torch.randn(2, 16))
    assert x.shape == (2, 3, res, res) and x.abs().max() <= 1 and D(x).shape == (2,)


def test_resnet_has_sngan_size_at_32() -> None:
    """SNGAN's CIFAR-10 ResNet (256-channel G, 128-channel D, z of 128): 4.28 M and 1.05 M
    parameters, as in kwotsin/mimicry."""
    G, D = build_models(cfg("resnet", 128), DataInfo("cifar10", "image", (3, 32, 32), 10), 128)
    assert sum(p.numel() for p in G.parameters()) == 4_276_739
    assert sum(p.numel() for p in D.parameters()) == 1_053_825
    assert len(D.blocks) == 4  # optimised block, one down block, two plain blocks


@pytest.mark.parametrize("name", ["dcgan", "mlp"])
def test_d_state_dict_keys_are_those_of_earlier_checkpoints(name: str) -> None:
    """Splitting D into features + score kept the score layer as the last of `net`, so
    checkpoints written before conditioning existed still load."""
    _, D = build_models(cfg(name), DataInfo("x", "image", (1, 8, 8), 10), 16)
    keys = list(D.state_dict())
    assert all(k.startswith("net.") for k in keys)
    x = torch.randn(3, 1, 8, 8)
    assert torch.allclose(D.score(D.features(x)), D(x))


@pytest.mark.parametrize(
    "d_norm, norm", [("batch", torch.nn.BatchNorm2d), ("layer", torch.nn.GroupNorm), ("none", None)]
)
def test_d_norm_sets_the_critics_normalisation(d_norm: str, norm: type | None) -> None:
    """model.d_norm replaces D's batch norm: with layer norm or none each sample's score depends
    on that sample alone (a per-sample gradient penalty's premise), with batch norm on the
    batch; G keeps its batch norm, and D's other weights keep their checkpoint keys."""
    info = DataInfo("x", "image", (1, 16, 16), 10)
    model = OmegaConf.create({"name": "dcgan", "width": 8, "d_norm": d_norm})
    G, D = build_models(model, info, 16)
    kinds = {type(m) for m in D.modules()}
    assert {torch.nn.BatchNorm2d, torch.nn.GroupNorm} & kinds == ({norm} if norm else set())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    convs = [
        f"{name}.weight"
        for name, m in build_models(cfg("dcgan"), info, 16)[1].named_modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert set(convs) <= set(D.state_dict())
    x = torch.randn(6, 1, 16, 16)
    alone = torch.cat([D(x[i : i + 1]) for i in range(len(x))])
    assert torch.allclose(D(x), alone, atol=1e-5) == (d_norm != "batch")


@pytest.mark.parametrize(
    "name, shape",
    [("dcgan", (1, 16, 16)), ("resnet", (1, 16, 16)), ("r3gan", (1, 16, 16)), ("mlp", (2,))],
)
def test_d_width_narrows_d_alone(name: str, shape: tuple[int, ...]) -> None:
    """model.d_width=width/4 gives D a quarter of G's width (the weak-D Stacked MNIST variant):
    D's parameters shrink by about 16 for a conv net, G's stay those of the shared width."""
    info = DataInfo("x", "image" if len(shape) == 3 else "points", shape, 10)
    extra = {"blocks_per_stage": 1, "expansion": 2, "group_size": 4} if name == "r3gan" else {}
    same = OmegaConf.create({"name": name, "width": 16, "depth": 2, **extra})
    narrow = OmegaConf.create({"name": name, "width": 16, "d_width": 4, "depth": 2, **extra})
    (G1, D1), (G2, D2) = build_models(same, info, 8), build_models(narrow, info, 8)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(G1) == count(G2)
    assert count(D2) < count(D1) / 3
    x = G2(torch.randn(3, 8))
    assert D2(x).shape == (3,)
