"""`gancli eval`: score a checkpoint or a set of samples against real data
(see `gancli.evaluation`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from gancli.config import validate
from gancli.errors import reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="eval")
@reported
def main(cfg: DictConfig) -> float:
    """Compute `eval.metrics`; returns the primary metric for Hydra sweepers."""
    validate(cfg)
    from gancli.evaluation.run import eval_from_hydra

    return eval_from_hydra(cfg)
