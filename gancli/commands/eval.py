"""`gancli eval`: score a checkpoint or a set of samples against real data
(see `gancli.evaluation`)."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gancli.commands import print_result, run_folder
from gancli.config import validate
from gancli.errors import reported


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="eval")
@reported
def main(cfg: DictConfig) -> float:
    """Compute `eval.metrics`; returns the primary metric for Hydra sweepers."""
    validate(cfg)
    return eval_from_hydra(cfg)


def eval_from_hydra(cfg: DictConfig) -> float:
    """`gancli eval`'s body: results in Hydra's run folder (scored with this command line's
    overrides), eval.json's path printed last; returns the primary metric for sweepers."""
    from gancli.evaluation.metrics import higher_is_better
    from gancli.evaluation.run import run_eval  # torch, once cfg is valid
    from gancli.jobs import JobDevices, job_record

    out_dir = run_folder()
    with JobDevices() as devices, job_record(out_dir, devices) as outcome:
        result, primary = run_eval(cfg, out_dir, list(HydraConfig.get().overrides.task),
                                   devices)
        outcome.finish(primary, float(result[primary]), higher_is_better(primary))
    print_result(out_dir / "eval.json")
    return float(result[primary])
