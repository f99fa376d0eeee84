"""Errors a user can fix, and how commands report them.

A `GancliError` carries one line that names the problem and the fix. Commands wrap their body in
`reported`, which logs that line (to stderr and the run's log file) and exits non-zero, instead of
letting Hydra print a stack trace for what is a user's mistake, not a bug. In a sweep (`-m`) one
failing job must not stop the others: the job's error is logged, it returns NaN (for the Optuna
sweeper the worst value instead: see `failed_value`), and the command exits non-zero once the
sweep is over.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger("gancli")

#: Jobs of this process's sweep that failed with a `GancliError`.
failed_jobs: list[str] = []


class GancliError(Exception):
    """A problem with the user's input or files; the message says what is wrong and what to do."""

    exit_code = 1


class ConfigError(GancliError):
    """A setting the schemas refuse (unknown key, value out of range), found before any work."""


def did_you_mean(word: object, choices: Iterable[object], shown: str = "{}") -> str:
    """`; did you mean X?` for the choice `word` is a likely typo of (difflib's closest, when
    close enough), written as `shown` formats it (`loss={}`, `train.{}`); `""` when none is."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


#: When this process started, to tell the files it wrote from those that were there before.
_STARTED = time.time()


def remove_empty_run(folder: Path) -> None:
    """Remove the run folder Hydra made for a command that failed before doing anything: one
    that holds only Hydra's bookkeeping (`.hydra/`, the log) written by this process. A folder
    with anything else in it, or older files, is left as it is, and so is the working
    directory itself (a command whose run folder is `.`)."""
    if not folder.is_dir() or folder.resolve() == Path.cwd().resolve():
        return
    files = [p for p in folder.rglob("*") if p.is_file()]
    ours = all(p.stat().st_mtime >= _STARTED - 1 for p in files)
    bookkeeping = all(p.relative_to(folder).parts[0] == ".hydra" or
                      (p.parent == folder and p.suffix == ".log") for p in files)
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


def _job() -> tuple[str | None, bool]:
    """This job's run folder (None outside Hydra) and whether it is part of a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, False
    hydra_cfg = HydraConfig.get()
    return hydra_cfg.runtime.output_dir, hydra_cfg.mode == RunMode.MULTIRUN


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
    return -math.inf if str(sweeper.get("direction", "minimize")).lower() == "maximize" \
        else math.inf


def reported(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn a `GancliError` raised by `fn` into one logged line and a non-zero exit. A single
    run's folder is removed when the error came before any work (nothing but Hydra's
    bookkeeping in it); a sweep keeps each failed job's folder, which its summary names."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return fn(*args, **kwargs)
        except GancliError as err:
            log.error("gancli: error: %s", err)
            job, sweep = _job()
            if not sweep:
                if job is not None:  # an open log file may go too: POSIX keeps it writable
                    remove_empty_run(Path(job))
                raise SystemExit(err.exit_code) from None
            failed_jobs.append(job)
            return failed_value()  # type: ignore[return-value]

    return wrapper
