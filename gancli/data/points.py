"""2D Gaussian mixtures, the standard toy for seeing mode collapse (PacGAN, VEEGAN).

Geometry as in `shared/guide/evaluation.md`: ring8 has 8 modes on a circle of radius 1 with
std 0.01; grid25 has 25 modes at {-4,-2,0,2,4}^2 with std 0.05.
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, Split, TensorData, register_dataset


def ring8_modes() -> tuple[torch.Tensor, float]:
    """Mode centres and the shared standard deviation of ring8."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], dim=1), 0.01


def grid25_modes() -> tuple[torch.Tensor, float]:
    """Mode centres and the shared standard deviation of grid25."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1), 0.05


MIXTURES = {"ring8": ring8_modes, "grid25": grid25_modes}


def sample_mixture(name: str, n: int, seed: int) -> TensorData:
    """`n` points from the equal-weight mixture `name`, labelled with their mode."""
    centres, std = MIXTURES[name]()
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(centres), (n,), generator=g)
    x = centres[y] + std * torch.randn(n, 2, generator=g)
    return TensorData(DataInfo(name, "points", (2,), len(centres)), x, y)


def _loader(name: str):
    def load(cfg: DictConfig, split: Split) -> TensorData:
        # Distinct fixed seeds per split: the test split is a fresh draw, never the training one.
        return sample_mixture(name, cfg.num_points, seed=0 if split == "train" else 1)

    return load


for _name in MIXTURES:
    register_dataset(_name)(_loader(_name))
