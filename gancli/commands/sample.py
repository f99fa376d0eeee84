"""`gancli sample`: load a checkpoint's generator and write samples (see `gancli.sampling`)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gancli.commands import Command, print_result
from gancli.commands.hydra_seam import reported, run_folder, sweep_job
from gancli.config import validate
from gancli.errors import ConfigError


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="sample")
@reported
def main(cfg: DictConfig) -> None:
    """Write `n` samples to `out` and print its path."""
    validate(cfg)
    if not cfg.ckpt:
        raise ConfigError("give ckpt=PATH: the run folder or checkpoint file to sample from")
    sample_from_hydra(cfg)


def sample_from_hydra(cfg: DictConfig) -> None:
    """`gancli sample`'s body: default output in the command's run folder; prints the path."""
    from gancli.launch.jobs import JobDevices
    from gancli.sampling import run_sample  # torch, once the config is known to be valid

    out = Path(cfg.out) if cfg.out else run_folder() / "samples.png"
    with JobDevices(sweep_job()) as devices:
        print_result(run_sample(cfg, out, devices))


COMMAND = Command(app=main)
