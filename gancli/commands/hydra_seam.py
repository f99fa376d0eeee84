"""Everything gancli asks of Hydra or tells it, in one place: running a command's Hydra app (and
wording its errors), this job's folder and place in a sweep, whether a command line or a job is
a multirun, what a failed sweep job returns, the sweep's failed jobs, the sweep callback, and
the `--help` formatter gancli puts in place of Hydra's.

The rest of gancli asks none of this: a command reads it here and hands the domain code plain
values (`SweepJob`, a folder, a bool). Hydra's state is global to the process; reading it from
one module keeps what that state means, and how it changes between Hydra versions, in one file.

`reported` turns a user's mistake into one logged line and a non-zero exit. In a sweep (`-m`)
one failing job must not stop the others: the job's error is logged, it returns NaN (for the
Optuna sweeper the worst value instead: see `failed_value`), and the command exits non-zero
once the sweep is over (`failed_jobs`).

No torch here: the dispatcher and Hydra's callback (`--help` included) import it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gancli.errors import GancliError
from gancli.launch.sweep_summary import make_study_folder, summarise

if TYPE_CHECKING:
    from gancli.launch.jobs import SweepJob

T = TypeVar("T")

log = logging.getLogger("gancli")

#: Jobs of this process's sweep that failed: the folders `reported` and `SweepEnd` noted.
failed_jobs: list[str] = []

#: When this process started, to tell the files it wrote from those that were there before.
_STARTED = time.time()


# -- the command line, before Hydra reads it --------------------------------------------------


def sweeps(args: list[str]) -> bool:
    """Whether a command line makes Hydra sweep: `-m`, or a config that sets `hydra.mode:
    MULTIRUN` (`hparams_search=...`)."""
    return any(_sweeps(arg) for arg in args)


def _sweeps(arg: str) -> bool:
    if arg in ("-m", "--multirun"):
        return True
    key, _, value = arg.partition("=")
    key = key.lstrip("+")
    return (key == "hydra.mode" and value.upper() == "MULTIRUN") or (
        key == "hparams_search" and value not in ("", "null")
    )


def shown_config(args: list[str]) -> bool:
    """Whether Hydra printed the command's config (`--cfg job` or `--cfg all`, `-c` too)."""
    for flag, value in itertools.pairwise([*args, ""]):
        if flag in ("--cfg", "-c") and value in ("job", "all"):
            return True
    return any(a in ("--cfg=job", "--cfg=all") for a in args)


# -- running an app ---------------------------------------------------------------------------


def run_app(app_main: Callable[[], object]) -> int:
    """Run a command's Hydra app (it reads sys.argv); a config that does not compose (a key the
    option's schema lacks, an unknown option, a value of the wrong type, an override Hydra
    cannot read) or a run folder Hydra cannot make becomes one line and exit status 1.

    Hydra prints such errors itself over several lines unless HYDRA_FULL_ERROR=1, in which
    case it raises them: gancli sets it to word them itself. A user who set it to 1 gets
    Hydra's traceback as usual (any other value, as for Hydra, asks for none). Only Hydra's
    own errors are caught: an OmegaConf error or OSError raised by gancli's code while it runs
    is a bug, and keeps its traceback."""
    from hydra.errors import HydraException

    from gancli.config import config_error_line

    help_groups_from_one_repository()
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
        key = "hydra.sweep.dir" if sweeps(sys.argv[1:]) else "hydra.run.dir"
        sys.stderr.write(
            f"gancli: error: cannot make the run folder {err.filename}: "
            f"{err.strerror} (a file is in the way, or the folder is not "
            f"writable); choose another {key}\n"
        )
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
    frames = [
        f.filename
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(stdlib)
    ]
    return bool(frames) and frames[-1].startswith(os.path.dirname(hydra.__file__) + os.sep)


def help_groups_from_one_repository() -> None:
    """`--help`'s list of config groups, read from one config repository, without the schemas.

    Hydra's own formatter builds a fresh repository, deep-copying every stored config, for each
    of the ~130 group look-ups it makes, twice (its own groups and the app's), which with a
    schema stored per option family is most of `gancli train --help`'s time (figures:
    benchmarks/RESULTS.md). Listing from one repository gives the same lines. The option schemas
    (`schema/<group>/<name>`) are what options extend, not choices, so they are left out. Hydra
    has no setting for either, so its formatter is replaced (once; `run_app` asks every time);
    a Hydra without the private method this uses keeps its own."""
    from hydra._internal.hydra import Hydra
    from hydra.core.object_type import ObjectType

    original = getattr(Hydra, "format_config_groups", None)
    if original is None or getattr(original, "_gancli", False):
        return

    def format_config_groups(
        self: Hydra, predicate: Callable[[str], bool], compact: bool = True
    ) -> str:
        loader = self.config_loader
        if not hasattr(loader, "_parse_overrides_and_create_caching_repo"):
            return original(self, lambda g: predicate(g) and not g.startswith("schema"), compact)
        _, repo = loader._parse_overrides_and_create_caching_repo(None, [])

        def groups(parent: str = "") -> Iterator[str]:
            for child in repo.get_group_options(parent, ObjectType.GROUP):
                name = f"{parent}/{child}" if parent else child
                if name == "schema":
                    continue
                if repo.get_group_options(name, ObjectType.CONFIG):
                    yield name
                yield from groups(name)

        lines = []
        for group in sorted(g for g in groups() if predicate(g) and composed(g)):
            options = sorted(repo.get_group_options(group, ObjectType.CONFIG))
            lines.append(
                f"{group}: {', '.join(options)}"
                if compact
                else f"{group}:\n" + "\n".join(f"  {o}" for o in options)
            )
        return "".join(line + "\n" for line in lines)

    def composed(group: str) -> bool:
        """Whether the command's config composes `group` (Hydra records each group its
        defaults chose in hydra.runtime.choices, before it formats the help): `sample --help`
        lists none of train's groups, `eval --help` only `data`."""
        from hydra.core.hydra_config import HydraConfig

        return (
            not HydraConfig.initialized()
            or group.startswith("hydra")
            or group in HydraConfig.get().runtime.choices
        )

    format_config_groups._gancli = True  # type: ignore[attr-defined]
    Hydra.format_config_groups = format_config_groups  # type: ignore[method-assign]


# -- the job an app runs ----------------------------------------------------------------------


def hydra_config() -> DictConfig:
    """Hydra's `hydra` node of the running job (its overrides, run folder, launcher)."""
    from hydra.core.hydra_config import HydraConfig

    return cast(DictConfig, HydraConfig.get())  # typed as its schema, HydraConf


def run_folder() -> Path:
    """The folder Hydra made for this command's run (or sweep job)."""
    return Path(hydra_config().runtime.output_dir)


def overrides() -> list[str]:
    """This job's command-line overrides, as Hydra recorded them."""
    return list(hydra_config().overrides.task)


def multirun() -> bool:
    """Whether this job is one job of a multirun (`-m`, a sweeper); False outside Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_job() -> SweepJob | None:
    """This job's place in its sweep, as plain values for the code that runs it; None when it
    is no sweep's job."""
    if not multirun():
        return None
    from gancli.launch.jobs import SweepJob

    hydra_cfg = hydra_config()
    return SweepJob(int(hydra_cfg.job.num), str(hydra_cfg.sweep.dir), parallel_sweep())


def parallel_sweep() -> bool:
    """Whether this sweep's jobs run at the same time, in processes of their own: joblib with
    n_jobs other than 1, or a launcher other than Hydra's basic one (submitit, ...). The basic
    launcher, and joblib with one job (which joblib runs in this process), run them one after
    the other here."""
    launcher = hydra_config().launcher
    target = str(launcher.get("_target_", ""))
    if target.endswith("BasicLauncher"):
        return False
    return launcher.get("n_jobs", -1) != 1 if "joblib" in target else True


def failed_value() -> float:
    """What a failed sweep job returns: NaN, except to the Optuna sweeper, which gets the worst
    value of its direction (+inf when minimising). The plugin (1.3) crashes the whole search
    with a traceback on a NaN (it tells Optuna a failed trial *with* values, which Optuna
    refuses); told the worst value, Optuna keeps the trial and its sampler steers away from
    it, and the search goes on."""
    from hydra.core.hydra_config import HydraConfig

    sweeper = HydraConfig.get().sweeper if HydraConfig.initialized() else None
    if sweeper is None or "optuna" not in str(sweeper.get("_target_", "")).lower():
        return math.nan
    return (
        -math.inf if str(sweeper.get("direction", "minimize")).lower() == "maximize" else math.inf
    )


def reported(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn a `GancliError` raised by `fn` into one logged line and a non-zero exit. A single
    run's folder is removed when the error came before any work (nothing but Hydra's
    bookkeeping in it); a sweep keeps each failed job's folder, which its summary names."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return fn(*args, **kwargs)
        except GancliError as err:
            from hydra.core.hydra_config import HydraConfig

            log.error("gancli: error: %s", err)
            job = HydraConfig.get().runtime.output_dir if HydraConfig.initialized() else None
            if not multirun():
                if job is not None:  # an open log file may go too: POSIX keeps it writable
                    remove_empty_run(Path(job))
                raise SystemExit(err.exit_code) from None
            if job is not None:  # a sweep's job always has its folder
                failed_jobs.append(job)
            return failed_value()  # type: ignore[return-value]

    return wrapper


def remove_empty_run(folder: Path) -> None:
    """Remove the run folder Hydra made for a command that failed before doing anything: one
    that holds only Hydra's bookkeeping (`.hydra/`, the log) written by this process. A folder
    with anything else in it, or older files, is left as it is, and so is the working
    directory itself (a command whose run folder is `.`)."""
    if not folder.is_dir() or folder.resolve() == Path.cwd().resolve():
        return
    files = [p for p in folder.rglob("*") if p.is_file()]
    ours = all(p.stat().st_mtime >= _STARTED - 1 for p in files)
    bookkeeping = all(
        p.relative_to(folder).parts[0] == ".hydra" or (p.parent == folder and p.suffix == ".log")
        for p in files
    )
    if not (ours and bookkeeping):
        return
    shutil.rmtree(folder, ignore_errors=True)
    # The date and command folders above it (below the working directory), when this run was
    # all they held.
    cwd = Path.cwd().resolve()
    for parent in folder.resolve().parents:
        if cwd not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()


# -- the sweep's end --------------------------------------------------------------------------


class SweepEnd(Callback):
    """Hydra callback (`conf/hydra/gancli.yaml`), called in the process that launched a sweep:
    the folder of an Optuna SQLite study before it, the summary after it
    (`gancli.launch.sweep_summary`), whose unfinished jobs join `failed_jobs` so the
    command exits non-zero however they were launched."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        make_study_folder(OmegaConf.select(config, "hydra.sweeper.storage", default=None))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        known = {str(Path(f).resolve()) for f in failed_jobs}
        for folder in summarise(Path(str(config.hydra.sweep.dir))):
            if str(Path(folder).resolve()) not in known:
                failed_jobs.append(folder)
