"""`gancli train`: compose the config, then hand over to the training loop in `gancli.training`."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from gancli.config import validate
from gancli.errors import reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="train")
@reported
def main(cfg: DictConfig) -> float:
    """Train; returns the final divergence estimate so a Hydra sweeper can optimise it."""
    validate(cfg)
    from gancli.training.loop import train_from_hydra

    return train_from_hydra(cfg)
