"""Errors a user can fix, and how commands report them.

A `GancliError` carries one line that names the problem and the fix. Commands wrap their body in
`reported`, which logs that line (to stderr and the run's log file) and exits non-zero, instead of
letting Hydra print a stack trace for what is a user's mistake, not a bug.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger("gancli")


class GancliError(Exception):
    """A problem with the user's input or files; the message says what is wrong and what to do."""

    exit_code = 1


def reported(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn a `GancliError` raised by `fn` into one logged line and `SystemExit(exit_code)`."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return fn(*args, **kwargs)
        except GancliError as err:
            log.error("gancli: error: %s", err)
            raise SystemExit(err.exit_code) from None

    return wrapper
