"""Stopping a run cleanly: Ctrl-C, and the signals a cluster sends before it kills a job.

Ctrl-C (SIGINT), SIGTERM (what Slurm, Kubernetes and `kill` send first), SIGUSR1 (the usual
choice for Slurm's `--signal` ahead of the time limit) and SIGUSR2 (submitit's preemption
signal) all ask the loop to finish its step, write its checkpoint and exit; a second one aborts
at once. The exit status tells them apart: 130 after Ctrl-C (as shells report a SIGINT death),
`PREEMPTED` (75, the `EX_TEMPFAIL` of sysexits.h: "try again later") after a cluster's signal,
so a job script can requeue exactly the runs that were cut short and `resume=auto` continues
them.

Under submitit (`hydra/launcher=submitit_slurm`) the signal's previous handler is submitit's,
which requeues the job and ends the process; `hand_over` calls it once the checkpoint is
written, so submitit's checkpointing protocol runs after gancli's, not instead of it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("gancli.train")

# Exit status after Ctrl-C, as shells report a SIGINT death.
INTERRUPTED = 130
# Exit status after SIGTERM / SIGUSR1: preempted, resume me.
PREEMPTED = 75
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)

#: What `signal.signal` takes and returns: a function, `SIG_DFL`/`SIG_IGN`, or None (a handler
#: not installed from Python).
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class StopRequest:
    """While active (a context manager, in the main thread), the signals above set `requested`
    (and `signal`, the first one received) instead of killing the process."""

    def __init__(self) -> None:
        self.requested = False
        self.signal: int | None = None
        self._previous: dict[int, Handler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested, self.signal = True, signum
        what = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        log.warning(
            "%s: stopping after this step and saving a checkpoint (send it again to abort at once)",
            what,
        )

    @property
    def exit_status(self) -> int:
        """`INTERRUPTED` after Ctrl-C, `PREEMPTED` after a cluster's signal (or when another
        process of a torchrun job was the one signalled)."""
        return INTERRUPTED if self.signal == signal.SIGINT else PREEMPTED

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def hand_over(self) -> None:
        """Call the handler that the received signal had before this one (a launcher's, such
        as submitit's requeue), if it had one of its own; Python's and the OS's defaults (which
        would raise KeyboardInterrupt or kill the process) are left out."""
        if self.signal is None:
            return
        previous = self._previous.get(self.signal)
        if callable(previous) and previous is not signal.default_int_handler:
            previous(self.signal, None)

    def __exit__(self, *exc: object) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous)
        self._previous = {}
