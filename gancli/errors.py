"""Errors a user can fix, and how commands report them.

A `GancliError` carries one line that names the problem and the fix. Commands wrap their body in
`reported`, which logs that line (to stderr and the run's log file) and exits non-zero, instead of
letting Hydra print a stack trace for what is a user's mistake, not a bug. In a sweep (`-m`) one
failing job must not stop the others: the job's error is logged, it returns NaN (a failed trial
for sweepers), and the command exits non-zero once the sweep is over.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger("gancli")

#: Jobs of this process's sweep that failed with a `GancliError`.
failed_jobs: list[str] = []


class GancliError(Exception):
    """A problem with the user's input or files; the message says what is wrong and what to do."""

    exit_code = 1


def _sweep_job() -> str | None:
    """This job's run folder when it is part of a multirun, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return HydraConfig.get().runtime.output_dir
    return None


def reported(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn a `GancliError` raised by `fn` into one logged line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return fn(*args, **kwargs)
        except GancliError as err:
            log.error("gancli: error: %s", err)
            job = _sweep_job()
            if job is None:
                raise SystemExit(err.exit_code) from None
            failed_jobs.append(job)
            return math.nan  # type: ignore[return-value]

    return wrapper
