"""`gancli eval`: score a checkpoint or a set of samples against real data
(see `gancli.evaluation`).

The results of a run's checkpoint go into that run, `RUN/eval/<date>_<time>/`, so the run folder
stays the one thing a user keeps and `gancli report RUN` shows them; conf/eval.yaml sets
Hydra's run folder so through the resolver `gancli.eval_dir` (a `hydra.run.dir=` given wins).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from gancli.commands import Command, print_result
from gancli.commands.hydra_seam import overrides, reported, run_folder, sweep_job
from gancli.config import validate
from gancli.report.runs import EVAL_FOLDER


def run_of(ckpt: str | None) -> Path | None:
    """The run folder `ckpt` names: a folder with metrics.jsonl (as `gancli train` writes), or
    the run of a checkpoint in its `checkpoints/`; None for a loose checkpoint file."""
    if not ckpt:
        return None
    path = Path(ckpt.strip("'\"")).expanduser()
    if not path.is_dir() and path.parent.name != "checkpoints":
        return None
    run = path if path.is_dir() else path.parent.parent
    return run if (run / "metrics.jsonl").is_file() else None


def eval_dir(ckpt: str | None, default: str, stamp: str) -> str:
    """`gancli eval`'s run folder: `RUN/eval/<stamp>` for a run's checkpoint (`run_of`); else
    `default` (outputs/eval/<date>/<time>: a loose checkpoint file, or samples)."""
    run = run_of(ckpt)
    return default if run is None else str(run / EVAL_FOLDER / stamp)


def command_line(args: list[str]) -> list[str]:
    """A run's checkpoint is scored against the data it was trained on, so without a `data=` of
    the user's the run's own data option is chosen (Hydra's record of the run's choices), and
    `data.root=` then composes for an MNIST run as for the default digits, whose schema has no
    `root`. A loose checkpoint or samples: the command line as given. Needs no torch: the
    dispatcher calls it."""
    values = dict(a.split("=", 1) for a in args if "=" in a)
    run = run_of(values.get("ckpt"))
    if run is None or "data" in values or not (run / ".hydra" / "hydra.yaml").is_file():
        return args
    choice = OmegaConf.select(
        OmegaConf.load(run / ".hydra" / "hydra.yaml"), "hydra.runtime.choices.data"
    )
    return args if choice is None else [f"data={choice}", *args]


OmegaConf.register_new_resolver("gancli.eval_dir", eval_dir, replace=True)


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
    from gancli.launch.jobs import JobDevices, job_record

    out_dir = run_folder()
    with JobDevices(sweep_job()) as devices, job_record(out_dir, devices) as outcome:
        result, primary = run_eval(cfg, out_dir, overrides(), devices)
        outcome.finish(primary, float(result[primary]), higher_is_better(primary))
    print_result(out_dir / "eval.json")
    return float(result[primary])


COMMAND = Command(app=main, command_line=command_line)
