"""The `gancli` console script: a thin dispatcher over one Hydra app per command.

Hydra gives one `@hydra.main` per entry point. Reading the command word here and handing the rest
of the command line to that command's own Hydra app keeps every Hydra feature working per command
(overrides, `-m` sweeps, `--cfg`, `--help`, `hydra.run.dir=...`). Nothing here imports torch, so
`gancli --help` and config errors answer at once.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile

# command -> (module holding its Hydra app, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("gancli.commands.train", "train a GAN; writes a run folder (config, log, metrics, "
              "checkpoints, samples)"),
    "sample": ("gancli.commands.sample", "draw samples from a checkpoint: a PNG grid, an .npz, "
               "or a folder of PNGs"),
    "eval": ("gancli.commands.eval", "score a checkpoint or a set of samples against real data"),
}


def usage() -> str:
    """The command list, one line each."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return (
        "usage: gancli <command> [group=option ...] [key=value ...] [-m] [--help]\n\n"
        "commands:\n" + "\n".join(lines) + "\n\n"
        "`gancli <command> --help` lists that command's config groups and keys.\n"
    )


def _sweeps(arg: str) -> bool:
    """Whether a command-line argument makes Hydra sweep: `-m`, or a config that sets
    `hydra.mode: MULTIRUN` (`hparams_search=...`)."""
    if arg in ("-m", "--multirun"):
        return True
    key, _, value = arg.partition("=")
    key = key.lstrip("+")
    return ((key == "hydra.mode" and value.upper() == "MULTIRUN")
            or (key == "hparams_search" and value not in ("", "null")))


def torchrun_overrides(command: str, rest: list[str]) -> list[str]:
    """The command line of this process when torchrun started several (WORLD_SIZE > 1).

    Every rank composes the same config, but only rank 0 keeps a run folder: the others train
    in a scratch folder (removed at exit) and log warnings and errors only, so one run leaves
    one folder and one log. Raises ValueError for what cannot run distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return rest
    if command != "train":
        raise ValueError(f"gancli {command} runs in one process: start it without torchrun")
    if any(_sweeps(arg) for arg in rest):
        raise ValueError("a sweep (-m, hparams_search) cannot run under torchrun: start one "
                         "torchrun per run, or sweep without torchrun")
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        return rest
    scratch = tempfile.mkdtemp(prefix=f"gancli-rank{rank}-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    own = ("hydra.run.dir=", "hydra.output_subdir=", "hydra.job_logging.root.")
    return [arg for arg in rest if not arg.startswith(own)] + [
        f"hydra.run.dir={scratch}", "hydra.output_subdir=null",
        "hydra.job_logging.root.level=WARNING", "hydra.job_logging.root.handlers=[console]"]


def main(argv: list[str] | None = None) -> int:
    """Dispatch `gancli <command> ...`; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0
    if args[0] in ("-V", "--version"):
        from gancli import __version__

        sys.stdout.write(f"gancli {__version__}\n")
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"gancli: unknown command '{command}'\n\n{usage()}")
        return 2
    try:
        rest = torchrun_overrides(command, rest)
    except ValueError as err:
        sys.stderr.write(f"gancli: error: {err}\n")
        return 2
    app = importlib.import_module(COMMANDS[command][0])
    # Hydra parses sys.argv itself; argv[0] names the program in its usage line.
    sys.argv = [f"gancli {command}", *rest]
    app.main()
    from gancli.errors import failed_jobs

    if failed_jobs:
        sys.stderr.write(f"gancli: {len(failed_jobs)} job(s) of the sweep failed: "
                         f"{', '.join(failed_jobs)}\n")
        return 1
    return 0
