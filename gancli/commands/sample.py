"""`gancli sample`: load a checkpoint's generator and write samples (see `gancli.sampling`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from gancli.config import SampleAppConfig, check_schema
from gancli.errors import reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="sample")
@reported
def main(cfg: DictConfig) -> None:
    """Write `n` samples to `out` and print its path."""
    check_schema(cfg, SampleAppConfig)
    from gancli.sampling import sample_from_hydra

    sample_from_hydra(cfg)
