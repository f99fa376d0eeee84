"""`gancli eval`: score a checkpoint or a set of samples against real data."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from gancli.errors import GancliError, reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="eval")
@reported
def main(cfg: DictConfig) -> float:
    """Compute `eval.metrics`; returns the primary metric for Hydra sweepers."""
    raise GancliError("gancli eval has no metrics yet (FID, KID, IS, precision/recall, mode "
                      "counting and memorization are being added); use gancli sample to look "
                      "at a checkpoint's samples meanwhile")
