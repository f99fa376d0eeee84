"""What torchrun's environment says about this process, and what each rank's `gancli` command
line becomes. Free of torch, so that the dispatcher (`gancli.cli`) can use it at once."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

#: Where the ranks other than 0 find rank 0's run folder, when the command line names one.
RANK0_RUN_DIR = "GANCLI_RANK0_RUN_DIR"


def rank0_run_dir(own: str) -> str:
    """The run folder whose checkpoint `resume=auto` continues: rank 0's (`own` on rank 0,
    and wherever the command line did not name one: then every rank starts a fresh run)."""
    return os.environ.get(RANK0_RUN_DIR, own) if this_rank() != 0 else own


def world_size() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def this_rank() -> int:
    """This process's rank under torchrun (0 outside it)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank on its machine: the GPU it trains on."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def torchrun_overrides(command: str, rest: list[str], sweeps: bool) -> list[str]:
    """The command line of this process when torchrun started several (WORLD_SIZE > 1);
    `sweeps`: whether that command line asks for a multirun
    (`gancli.commands.hydra_seam.sweeps`).

    Every rank composes the same config, but only rank 0 keeps a run folder: the others train
    in a scratch folder (removed at exit) and log warnings and errors only, so one run leaves
    one folder and one log. Raises ValueError for what cannot run distributed."""
    if world_size() <= 1:
        return rest
    if command != "train":
        raise ValueError(f"gancli {command} runs in one process: start it without torchrun")
    if sweeps:
        raise ValueError(
            "a sweep (-m, hparams_search) cannot run under torchrun: start one "
            "torchrun per run, or sweep without torchrun"
        )
    rank = this_rank()
    if rank == 0:
        return rest
    for arg in rest:  # `resume=auto` looks for rank 0's checkpoint, not in the scratch folder
        if arg.startswith("hydra.run.dir="):
            os.environ[RANK0_RUN_DIR] = arg.partition("=")[2].strip("'\"")
    scratch = tempfile.mkdtemp(prefix=f"gancli-rank{rank}-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    own = ("hydra.run.dir=", "hydra.output_subdir=", "hydra.job_logging.root.")
    return [arg for arg in rest if not arg.startswith(own)] + [
        f"hydra.run.dir={scratch}",
        "hydra.output_subdir=null",
        "hydra.job_logging.root.level=WARNING",
        "hydra.job_logging.root.handlers=[console]",
    ]
