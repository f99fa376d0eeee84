"""The `gancli` console script: a thin dispatcher over one Hydra app per command.

Hydra gives one `@hydra.main` per entry point. Reading the command word here and handing the rest
of the command line to that command's own Hydra app keeps every Hydra feature working per command
(overrides, `-m` sweeps, `--cfg`, `--help`, `hydra.run.dir=...`). Nothing here imports torch, so
`gancli --help` and config errors answer at once.
"""

from __future__ import annotations

import importlib
import os
import sys

from gancli.launch.torchrun import torchrun_overrides

# OpenMP's waiting threads sleep instead of spinning: with spinning, a run whose other core is
# taken by another process slows down many times (gancli.threads). libgomp reads this once, when
# torch loads it, so it is set here, before any command imports torch; a user's value stands.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# command -> (module whose `COMMAND` declares it, one-line summary); a command's module is
# imported only when it runs, so that `gancli --help` needs no Hydra.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "gancli.commands.train",
        "train a GAN; writes a run folder (config, log, metrics, checkpoints, samples)",
    ),
    "sample": (
        "gancli.commands.sample",
        "draw samples from a checkpoint: a PNG grid, an .npz, or a folder of PNGs",
    ),
    "eval": ("gancli.commands.eval", "score a checkpoint or a set of samples against real data"),
    "data": (
        "gancli.commands.data",
        "prepare a dataset once for fast training (`data prepare`), "
        "show one (`data info DIR`), verify one (`data check DIR`)",
    ),
    "report": (
        "gancli.commands.report",
        "HTML pages of run folders: curves, scores, samples; a comparison table for a sweep",
    ),
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
        from gancli.errors import did_you_mean
        from gancli.registry import unknown_name

        sys.stderr.write(
            f"gancli: error: {unknown_name('command', command, COMMANDS)}"
            f"{did_you_mean(command, COMMANDS)}\n"
        )
        return 2
    from gancli.commands import hydra_seam

    declared = importlib.import_module(COMMANDS[command][0]).COMMAND
    if declared.dispatch is not None:  # a command that reads its own arguments
        return declared.dispatch(rest)
    if declared.command_line is not None:  # what the command adds to its own command line
        rest = declared.command_line(rest)
    try:
        rest = torchrun_overrides(command, rest, hydra_seam.sweeps(rest))
    except ValueError as err:
        sys.stderr.write(f"gancli: error: {err}\n")
        return 2
    failed = hydra_seam.failed_jobs
    failed.clear()  # a sweep's failures are this call's, also when main runs in-process
    # Hydra parses sys.argv itself; argv[0] names the program in its usage line.
    sys.argv = [f"gancli {command}", *rest]
    status = hydra_seam.run_app(declared.app)
    if status:
        return status
    if declared.after_show_cfg is not None and hydra_seam.shown_config(rest):
        declared.after_show_cfg()
    if failed:
        sys.stderr.write(f"gancli: {len(failed)} job(s) of the sweep failed: {', '.join(failed)}\n")
        return 1
    return 0
