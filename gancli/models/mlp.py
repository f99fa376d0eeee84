"""Fully connected G and D: the architecture of the 2D-mixture experiments, usable on images too
(flattened)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.models import d_width, register_model


def _stack(sizes: list[int], act: Callable[[], nn.Module]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), act()]
    return layers


class MLPGenerator(nn.Module):
    """z → `depth` ReLU layers of `width` → data; tanh for images (data lives in [-1, 1])."""

    def __init__(
        self, latent_dim: int, width: int, depth: int, shape: tuple[int, ...], image: bool
    ) -> None:
        super().__init__()
        self.shape = shape
        layers = _stack([latent_dim] + [width] * depth, nn.ReLU)
        layers.append(nn.Linear(width, math.prod(shape)))
        if image:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    """data → `depth` LeakyReLU layers of `width` (`features`) → one raw score per sample."""

    def __init__(self, width: int, depth: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        layers = _stack([math.prod(shape)] + [width] * depth, lambda: nn.LeakyReLU(0.2))
        # The score layer stays the last of `net`: state-dict keys as in earlier checkpoints.
        self.net = nn.Sequential(nn.Flatten(), *layers, nn.Linear(width, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[:-1](x)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return self.net[-1](h).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x))


@register_model("mlp")
def build_mlp(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    return (
        MLPGenerator(latent_dim, cfg.width, cfg.depth, info.shape, info.kind == "image"),
        MLPDiscriminator(d_width(cfg), cfg.depth, info.shape),
    )
