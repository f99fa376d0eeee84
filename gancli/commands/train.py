"""`gancli train`: compose the config, then hand over to the training loop in `gancli.training`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from gancli.commands import print_result, run_folder
from gancli.config import validate
from gancli.errors import GancliError, reported

#: Where Hydra's record of each resumed segment of a run goes, inside the run folder.
SEGMENT = ".hydra/resumed-"


def command_line(args: list[str]) -> list[str]:
    """`resume=RUN` continues in RUN: the command line gets `hydra.run.dir=RUN`, and Hydra's
    record of this segment's command line goes to `RUN/.hydra/resumed-<time>/` beside the first
    one's. Left as it is for `resume=auto` (the run folder is the one given), a checkpoint file
    other than a run's `checkpoints/last.pt`, `resume_in_place=false`, an explicit
    `hydra.run.dir`, and sweeps. Needs no torch or Hydra: the dispatcher calls it."""
    values = dict(a.lstrip("+").split("=", 1) for a in args if "=" in a)
    resume = values.get("resume")
    if (not resume or resume in ("auto", "null") or "hydra.run.dir" in values
            or values.get("resume_in_place", "true").lower() == "false"
            or any(a in ("-m", "--multirun") for a in args)):
        return args
    path = Path(resume).expanduser()
    if path.is_file() and path.name == "last.pt" and path.parent.name == "checkpoints":
        path = path.parent.parent
    if not (path / "checkpoints" / "last.pt").is_file():
        return args  # not a run folder: resumed into a new one (or refused, if no checkpoint)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    folder = str(path.resolve())
    if not all(c.isalnum() or c in "/._-" for c in folder):  # Hydra's grammar: quote it
        folder = "'" + folder.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return [*args, f"hydra.run.dir={folder}", f"hydra.output_subdir={SEGMENT}{stamp}"]


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="train")
@reported
def main(cfg: DictConfig) -> float:
    """Train; returns the final divergence estimate so a Hydra sweeper can optimise it."""
    validate(cfg)
    return train_from_hydra(cfg)


def train_from_hydra(cfg: DictConfig) -> float:
    """`gancli train`'s body: train in Hydra's run folder with this command line's overrides
    (which a resumed run applies to its checkpoint's config), print that folder last."""
    from gancli.evaluation.metrics import higher_is_better
    from gancli.files import atomic_write  # torch, once cfg is valid
    from gancli.jobs import JobDevices, job_record
    from gancli.training.distributed import leave_process_group
    from gancli.training.loop import Trainer

    hydra_cfg = HydraConfig.get()
    run_dir = run_folder()
    overrides = [(o.key_or_group, o.value())
                 for o in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))]
    segment = hydra_cfg.output_subdir
    # A sweep job's GPU is its own until the job ends (gancli.jobs).
    with JobDevices() as devices, job_record(run_dir, devices) as outcome:
        try:
            try:
                trainer = Trainer(cfg, run_dir, overrides, devices)
            except GancliError:
                # A resume in place refused before any work leaves the run as it was: Hydra's
                # record of this segment goes too.
                if segment and segment.startswith(SEGMENT):
                    shutil.rmtree(run_dir / segment, ignore_errors=True)
                raise
            if segment and segment.startswith(SEGMENT) and trainer.dist.is_main:
                # Hydra composed this segment's config from the defaults and the command line;
                # what it trains with is the checkpoint's config with that command line applied.
                atomic_write(run_dir / segment / "config.yaml",
                             lambda f: f.write(OmegaConf.to_yaml(trainer.cfg).encode()))
            result = trainer.run()
            outcome.finish(trainer.result_metric, result, higher_is_better(trainer.result_metric))
        finally:
            leave_process_group()
    if trainer.dist.is_main:
        print_result(run_dir)
    return result
