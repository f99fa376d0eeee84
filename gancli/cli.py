"""The `gancli` console script: a thin dispatcher over one Hydra app per command.

Hydra gives one `@hydra.main` per entry point. Reading the command word here and handing the rest
of the command line to that command's own Hydra app keeps every Hydra feature working per command
(overrides, `-m` sweeps, `--cfg`, `--help`, `hydra.run.dir=...`). Nothing here imports torch, so
`gancli --help` and config errors answer at once.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
from collections.abc import Callable

from gancli.torchrun import torchrun_overrides

# OpenMP's waiting threads sleep instead of spinning: with spinning, a run whose other core is
# taken by another process slows down many times (gancli.threads). libgomp reads this once, when
# torch loads it, so it is set here, before any command imports torch; a user's value stands.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# command -> (module holding its Hydra app, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("gancli.commands.train", "train a GAN; writes a run folder (config, log, metrics, "
              "checkpoints, samples)"),
    "sample": ("gancli.commands.sample", "draw samples from a checkpoint: a PNG grid, an .npz, "
               "or a folder of PNGs"),
    "eval": ("gancli.commands.eval", "score a checkpoint or a set of samples against real data"),
    "data": ("gancli.commands.data", "prepare a dataset once for fast training (`data prepare`), "
             "show one (`data info DIR`), verify one (`data check DIR`)"),
    "report": ("gancli.commands.report", "HTML pages of run folders: curves, scores, samples; "
               "a comparison table for a sweep"),
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


def run_app(app_main: Callable[[], object]) -> int:
    """Run a command's Hydra app; a config that does not compose (a key the option's schema
    lacks, an unknown option, a value of the wrong type, an override Hydra cannot read) or a
    run folder Hydra cannot make becomes one line and exit status 1.

    Hydra prints such errors itself over several lines unless HYDRA_FULL_ERROR=1, in which
    case it raises them: gancli sets it to word them itself. A user who set it to 1 gets
    Hydra's traceback as usual (any other value, as for Hydra, asks for none). Only Hydra's
    own errors are caught: an OmegaConf error or OSError raised by gancli's code while it runs
    is a bug, and keeps its traceback."""
    from hydra.errors import HydraException

    from gancli.config import config_error_line

    before = os.environ.get("HYDRA_FULL_ERROR")
    user_wants_trace = before == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        app_main()
    except HydraException as err:
        if user_wants_trace:
            raise
        sys.stderr.write(f"gancli: error: {config_error_line(err, sys.argv[1:])}\n")
        return 1
    except OSError as err:
        if user_wants_trace or not err.filename or not _raised_by_hydra(err):
            raise
        key = "hydra.sweep.dir" if {"-m", "--multirun"} & set(sys.argv) else "hydra.run.dir"
        sys.stderr.write(f"gancli: error: cannot make the run folder {err.filename}: "
                         f"{err.strerror} (a file is in the way, or the folder is not "
                         f"writable); choose another {key}\n")
        return 1
    finally:
        if before is None:
            del os.environ["HYDRA_FULL_ERROR"]
        else:
            os.environ["HYDRA_FULL_ERROR"] = before
    return 0


def _raised_by_hydra(err: BaseException) -> bool:
    """Whether Hydra itself (making the run folder, writing its `.hydra/` copies) raised `err`
    through the standard library: the innermost frame outside the standard library is Hydra's,
    not gancli's."""
    import sysconfig
    import traceback

    import hydra

    stdlib = sysconfig.get_paths()["stdlib"]
    frames = [f.filename for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(stdlib)]
    return bool(frames) and frames[-1].startswith(os.path.dirname(hydra.__file__) + os.sep)


def shown_config(args: list[str]) -> bool:
    """Whether Hydra printed the command's config (`--cfg job` or `--cfg all`, `-c` too)."""
    for flag, value in itertools.pairwise([*args, ""]):
        if flag in ("--cfg", "-c") and value in ("job", "all"):
            return True
    return any(a in ("--cfg=job", "--cfg=all") for a in args)


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

        sys.stderr.write(f"gancli: error: {unknown_name('command', command, COMMANDS)}"
                         f"{did_you_mean(command, COMMANDS)}\n")
        return 2
    app = importlib.import_module(COMMANDS[command][0])
    if hasattr(app, "dispatch"):  # a command with sub-commands reads its own arguments
        return app.dispatch(rest)
    if hasattr(app, "command_line"):  # what the command adds to its own command line
        rest = app.command_line(rest)
    try:
        rest = torchrun_overrides(command, rest)
    except ValueError as err:
        sys.stderr.write(f"gancli: error: {err}\n")
        return 2
    from gancli.errors import failed_jobs

    failed_jobs.clear()  # a sweep's failures are this call's, also when main runs in-process
    # Hydra parses sys.argv itself; argv[0] names the program in its usage line.
    sys.argv = [f"gancli {command}", *rest]
    status = run_app(app.main)
    if status:
        return status
    if hasattr(app, "after_show_cfg") and shown_config(rest):
        app.after_show_cfg()
    if failed_jobs:
        sys.stderr.write(f"gancli: {len(failed_jobs)} job(s) of the sweep failed: "
                         f"{', '.join(failed_jobs)}\n")
        return 1
    return 0
