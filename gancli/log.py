"""Console logging and the shared rich console.

Human-facing output (log lines, progress bars, errors) goes to stderr so that stdout carries only
results a script may read, such as the run folder's path. One `Console` serves both the log
handler and the progress bar, so log lines print above a live bar instead of tearing it.
"""

from __future__ import annotations

import logging
import sys
from functools import cache

from rich.console import Console


@cache
def console() -> Console:
    """The process-wide rich console on stderr."""
    return Console(stderr=True)


def console_handler() -> logging.Handler:
    """Rich formatting on a terminal, plain `message` lines otherwise (CI logs, pipes, files).

    Named in `conf/hydra/job_logging/gancli.yaml` as the console handler's factory.
    """
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        return RichHandler(console=console(), show_path=False, markup=False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler
