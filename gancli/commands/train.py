"""`gancli train`: compose the config, then hand over to the training loop in `gancli.training`."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import cast

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from gancli.commands import Command, print_result
from gancli.commands.hydra_seam import (
    hydra_config,
    multirun,
    overrides,
    reported,
    run_folder,
    sweep_job,
    sweeps,
)
from gancli.config import validate
from gancli.errors import GancliError

#: Where Hydra's record of each resumed segment of a run goes, inside the run folder.
SEGMENT = ".hydra/resumed-"


def command_line(args: list[str]) -> list[str]:
    """`resume=RUN` continues in RUN: the command line gets `hydra.run.dir=RUN`, and Hydra's
    record of this segment's command line goes to `RUN/.hydra/resumed-<time>/` beside the first
    one's. `resume=auto` into a given `hydra.run.dir` that holds a checkpoint gets such a
    segment too. Left as it is for a checkpoint file other than a run's `checkpoints/last.pt`,
    `resume_in_place=false`, an explicit `hydra.run.dir`, and sweeps. Needs no torch or Hydra:
    the dispatcher calls it."""
    values = dict(a.lstrip("+").split("=", 1) for a in args if "=" in a)
    resume = values.get("resume")
    if (
        not resume
        or resume == "null"
        or sweeps(args)
        or values.get("resume_in_place", "true").lower() == "false"
    ):
        return args
    stamp = f"hydra.output_subdir={SEGMENT}{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    if resume == "auto":  # a relaunch into its fixed folder: a segment when it continues
        given = values.get("hydra.run.dir", "").strip("'\"")
        has_run = given and (Path(given).expanduser() / "checkpoints" / "last.pt").is_file()
        return [*args, stamp] if has_run and "hydra.output_subdir" not in values else args
    if "hydra.run.dir" in values:
        return args
    path = Path(resume).expanduser()
    if path.is_file() and path.name == "last.pt" and path.parent.name == "checkpoints":
        path = path.parent.parent
    if not (path / "checkpoints" / "last.pt").is_file():
        return args  # not a run folder: resumed into a new one (or refused, if no checkpoint)
    folder = str(path.resolve())
    if not all(c.isalnum() or c in "/._-" for c in folder):  # Hydra's grammar: quote it
        folder = "'" + folder.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return [*args, f"hydra.run.dir={folder}", stamp]


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="train")
@reported
def main(cfg: DictConfig) -> float:
    """Train; returns the final divergence estimate so a Hydra sweeper can optimise it."""
    validate(cfg)
    return train_from_hydra(cfg)


def after_show_cfg() -> None:
    """After `gancli train --cfg job` printed the config: what its `auto` fast-path keys
    choose on this machine, as YAML comments (the output stays valid YAML). The config is
    composed again from Hydra's record of the command line, as the run would compose it."""
    from hydra import compose, initialize_config_module

    from gancli.launch.devices import resolve_device
    from gancli.training.precision import choose_precision

    with initialize_config_module("gancli.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides())
    device = resolve_device(cfg.train.device)
    if cfg.train.precision == "auto":
        images, _ = choose_precision("auto", device)
        if device.type != "cpu" and images == "bf16":  # measured on a GPU
            images = "bf16 or fp32, whichever measures faster at the run's start,"
        sys.stdout.write(
            f"# train.precision=auto is {images} on this machine's {device} for "
            "images, fp32 for 2D points\n"
        )
    if str(cfg.train.channels_last).lower() == "auto":
        sys.stdout.write(
            "# train.channels_last=auto is measured at the run's start "
            "(metrics.jsonl's first line records both choices)\n"
        )


def train_from_hydra(cfg: DictConfig) -> float:
    """`gancli train`'s body: train in Hydra's run folder with this command line's overrides
    (which a resumed run applies to its checkpoint's config), print that folder last."""
    from gancli.evaluation.metrics import higher_is_better
    from gancli.files import atomic_write  # torch, once cfg is valid
    from gancli.launch.jobs import JobDevices, job_record
    from gancli.training.distributed import leave_process_group
    from gancli.training.loop import Trainer
    from gancli.training.resume import auto_without_folder

    hydra_cfg = hydra_config()
    run_dir = run_folder()
    parsed = [
        (o.key_or_group, o.value()) for o in OverridesParser.create().parse_overrides(overrides())
    ]
    segment = hydra_cfg.output_subdir
    segment = run_dir / segment if segment and segment.startswith(SEGMENT) else None
    if cfg.resume == "auto" and not (run_dir / "checkpoints" / "last.pt").is_file():
        runs = time_stamped_runs(hydra_cfg)
        if runs is not None:
            raise auto_without_folder(cfg, runs)
    if not cfg.resume or cfg.resume == "auto":  # a resumed run's data is its checkpoint's
        check_image_side(cfg)
    trainer: Trainer | None = None
    # A sweep job's GPU is its own until the job ends (gancli.launch.jobs).
    with JobDevices(sweep_job()) as devices, job_record(run_dir, devices) as outcome:
        try:
            trainer = Trainer(cfg, run_dir, parsed, devices)
            start = trainer.step
            if segment and trainer.dist.is_main:
                # Hydra composed this segment's config from the defaults and the command line;
                # what it trains with is the checkpoint's config with that command line applied.
                atomic_write(
                    segment / "config.yaml",
                    lambda f: f.write(OmegaConf.to_yaml(trainer.cfg).encode()),
                )
            result = trainer.run()
            outcome.finish(trainer.result_metric, result, higher_is_better(trainer.result_metric))
        except GancliError:
            if trainer is None or trainer.step == start:
                forget_segment(run_dir, segment, new=trainer is not None and start == 0)
            raise
        finally:
            leave_process_group()
    if trainer.step == start:  # a finished run resumed: nothing was done
        forget_segment(run_dir, segment, new=False)
    if trainer.dist.is_main:
        print_result(run_dir)
    return result


def forget_segment(run_dir: Path, segment: Path | None, new: bool) -> None:
    """Undo what a segment that trained no step wrote (a refused or no-op resume, a batch
    that did not fit at the first step): Hydra's record of a resumed segment, and a `new`
    run's metrics.jsonl (the loop opened it, dropping any line past step 0: only the
    placement line is left), so that the run folder is as it was, or, for a new run, left
    with Hydra's bookkeeping only, which `gancli.commands.hydra_seam.reported` removes."""
    if segment is not None:
        shutil.rmtree(segment, ignore_errors=True)
    if new and not (run_dir / "checkpoints").exists():
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)


def time_stamped_runs(hydra_cfg: DictConfig) -> str | None:
    """The glob of this command's run folders when each launch gets a new one named by the
    time (`hydra.run.dir`'s `${now:...}` parts as `*`: `/cwd/outputs/train/*/*`); None when
    the run folder is fixed, where `resume=auto` finds the run's own checkpoint. A sweep in a
    time-stamped folder is refused: its jobs can only be continued in their sweep's folder."""
    sweep = multirun()
    folders = cast(
        dict, OmegaConf.to_container(hydra_cfg.sweep if sweep else hydra_cfg.run, resolve=False)
    )
    pattern = folders["dir"]
    if "${now:" not in str(pattern):
        return None
    if sweep:
        raise GancliError(
            "resume=auto in a sweep needs the sweep's folder: add "
            "hydra.sweep.dir=FOLDER of the sweep to continue, or drop resume=auto"
        )
    parts = Path(str(pattern)).parts
    actual = Path(hydra_cfg.runtime.output_dir).parts
    stamped = [
        "*" if "${now:" in p else a for p, a in zip(parts, actual[-len(parts) :], strict=True)
    ]
    return str(Path(*actual[: -len(parts)], *stamped))


def check_image_side(cfg: DictConfig) -> None:
    """A `data.resolution` the architecture cannot take (dcgan's side is a power of 2) fails
    before the data is decoded and cached: the networks are built on the meta device, which
    allocates nothing, for square one-channel images of that side."""
    side = cfg.data.get("resolution")
    if side is None:
        return
    import torch

    from gancli.data import DataInfo
    from gancli.models import build_models

    image = (1, side, side)
    with torch.device("meta"):
        build_models(cfg.model, DataInfo(cfg.data.name, "image", image, 1, image), cfg.latent.dim)


COMMAND = Command(app=main, command_line=command_line, after_show_cfg=after_show_cfg)
