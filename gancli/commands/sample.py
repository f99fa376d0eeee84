"""`gancli sample`: load a checkpoint's generator and write samples (see `gancli.sampling`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from gancli.config import validate
from gancli.errors import ConfigError, reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="sample")
@reported
def main(cfg: DictConfig) -> None:
    """Write `n` samples to `out` and print its path."""
    validate(cfg)
    if not cfg.ckpt:
        raise ConfigError("give ckpt=PATH: the run folder or checkpoint file to sample from")
    from gancli.sampling import sample_from_hydra

    sample_from_hydra(cfg)
