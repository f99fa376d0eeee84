"""`gancli train`: compose the config, then hand over to the training loop in `gancli.training`."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from gancli.commands import print_result, run_folder
from gancli.config import validate
from gancli.errors import reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="train")
@reported
def main(cfg: DictConfig) -> float:
    """Train; returns the final divergence estimate so a Hydra sweeper can optimise it."""
    validate(cfg)
    return train_from_hydra(cfg)


def train_from_hydra(cfg: DictConfig) -> float:
    """`gancli train`'s body: train in Hydra's run folder with this command line's overrides
    (which a resumed run applies to its checkpoint's config), print that folder last."""
    from gancli.training.distributed import leave_process_group  # torch, once cfg is valid
    from gancli.training.loop import Trainer

    hydra_cfg = HydraConfig.get()
    run_dir = run_folder()
    overrides = [(o.key_or_group, o.value())
                 for o in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))]
    try:
        trainer = Trainer(cfg, run_dir, overrides)
        result = trainer.run()
    finally:
        leave_process_group()
    if trainer.dist.is_main:
        print_result(run_dir)
    return result
