"""How many threads torch computes with on the CPU: `train.threads`, `eval.threads`,
`sample.threads` and `gancli data prepare threads=`, each `auto` or a number.

Why a choice at all: torch's CPU kernels split each op over an OpenMP team that meets at a
barrier after it. With libgomp's default wait policy a thread that arrives first spins there, so
when another process holds one of the cores the thread on it is descheduled while its partner
burns the other core waiting for it: the default run (digits DCGAN) on the 2-core EPYC made 150
img/s with 2 threads beside one busy process, against 2,910 alone and 1,350 with 1 thread. The
`gancli` script therefore starts with `OMP_WAIT_POLICY=PASSIVE` (`gancli.cli`: it must be in the
environment before torch loads OpenMP), with which waiting threads sleep and the same run keeps
1,990 img/s with 2 threads beside the busy process.

Which count is fastest then depends on the model and the machine: a small model's ops are too
short to split (the tests' 8-pixel DCGAN runs faster on one thread even alone), a large one's
gain from every core. So `auto` measures: it times a few calls of a probe (for training: a
forward and backward pass of copies of G and D at the run's batch, on the run's device) with 1,
2, 4, ... threads up to a ceiling, and takes more threads only where they are at least `MARGIN`
faster than fewer. A tie goes to fewer threads: they lose little when the machine is idle and
nothing when another process takes a core. The measurement takes well under a second (one call
at the ceiling when a call is slow, `SLOW_CALL_S`: ops that long gain from every core). Where no
probe is given (evaluation and sampling, whose large batches split well; preparing data) and on
a GPU, where the CPU's threads only feed it, `auto` keeps the ceiling. The ceiling is
`OMP_NUM_THREADS` when it is set (by the user, by joblib's workers in a parallel sweep, by
torchrun), else torch's default (the cores). Without the passive wait policy (gancli's Python
API used from a process that did not set it) `auto` takes 1 thread, the count that cannot spin.
A number given (`train.threads=4`) is used as it is.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import torch

#: How much faster (as a fraction of the time per call) more threads must be to be chosen.
MARGIN = 0.1
#: Rounds of timed calls (one per thread count each): at least MIN_ROUNDS, then more while the
#: timed calls have taken less than BUDGET_S seconds, up to MAX_ROUNDS.
MIN_ROUNDS, MAX_ROUNDS, BUDGET_S = 3, 15, 0.4
#: A probe call slower than this at the ceiling ends the measurement: the ceiling wins.
SLOW_CALL_S = 0.25
#: torch's thread count before gancli chose one: the cores it may use.
DEFAULT_THREADS = torch.get_num_threads()


@dataclass(frozen=True)
class ThreadChoice:
    """The threads a command computes with and how that number was chosen."""

    threads: int
    how: str
    #: The key that asked for it (`train.threads`).
    key: str = "threads"

    def __str__(self) -> str:
        """The log line: `train.threads: 2 threads, auto: 2 (measured ...)`. Commands log it
        after their work (sample, eval, prepare), so that an error stays their only line."""
        return f"{self.key}: {self.threads} thread{'' if self.threads == 1 else 's'}, {self.how}"

    def record(self) -> dict[str, object]:
        """What metrics.jsonl's first line and eval.json keep of it."""
        return {"threads": self.threads, "threads_choice": self.how}


def ceiling() -> tuple[int, str]:
    """The most threads `auto` considers, and where that number comes from."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) >= 1:
        return int(value), f"OMP_NUM_THREADS={value}"
    return DEFAULT_THREADS, "torch's default"


def passive_wait() -> bool:
    """Whether OpenMP's waiting threads sleep (see the module's docstring)."""
    return os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


def counts_to_try(most: int) -> list[int]:
    """1, 2, 4, ... and `most` itself: a handful of calls however many cores there are."""
    counts = [1]
    while counts[-1] * 2 < most:
        counts.append(counts[-1] * 2)
    return counts + [most] if most > 1 else counts


def seconds_per_call(probe: Callable[[], object]) -> Callable[[int], float]:
    """A timer of one call of `probe` with n threads."""

    def seconds(threads: int) -> float:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        probe()
        return time.perf_counter() - start

    return seconds


def measure(counts: list[int], seconds: Callable[[int], float]) -> dict[int, float]:
    """The median seconds of a call at each count. One untimed call each first (allocations,
    kernel choice), the most threads first: when that call is slower than `SLOW_CALL_S` the
    others are not timed. Then rounds of one call per count, interleaved so that a change of
    the machine's load hits every count, until `MIN_ROUNDS` are done and the calls have taken
    `BUDGET_S` (or `MAX_ROUNDS`): `interleaved_medians`."""
    order = sorted(counts, reverse=True)
    first = seconds(order[0])
    if first > SLOW_CALL_S:
        return {order[0]: first}
    for n in order[1:]:
        seconds(n)
    return interleaved_medians(order, seconds)


K = TypeVar("K")


def interleaved_medians(keys: list[K], seconds: Callable[[K], float]) -> dict[K, float]:
    """The median of `seconds(key)` for each key, over rounds of one call per key (after the
    caller's untimed first calls): at least `MIN_ROUNDS`, then more until the calls have taken
    `BUDGET_S` (at most `MAX_ROUNDS`). Interleaved, so that a change of the machine's load hits
    every key; the median, so that a key slow most of the time but sometimes lucky loses. Also
    what `train.channels_last=auto` compares layouts with (`gancli.training.fast`)."""
    samples: dict[K, list[float]] = {k: [] for k in keys}
    spent, rounds = 0.0, 0
    while rounds < MIN_ROUNDS or (spent < BUDGET_S and rounds < MAX_ROUNDS):
        for k in keys:
            samples[k].append(seconds(k))
            spent += samples[k][-1]
        rounds += 1
    return {k: statistics.median(times) for k, times in samples.items()}


def pick(times: dict[int, float]) -> int:
    """The fewest threads, unless more are at least `MARGIN` faster than the best so far."""
    best = min(times)
    for n in sorted(times):
        if times[n] < (1 - MARGIN) * times[best]:
            best = n
    return best


#: Builds what `auto` times (called only when it measures), or says there is nothing (None).
ProbeFactory = Callable[[], Callable[[], object] | None]


def decide(setting: str, device: torch.device, make_probe: ProbeFactory | None) -> ThreadChoice:
    """The choice for `setting` (`auto` or a number) on `device`; for `auto` on the CPU, times
    the probe `make_probe` builds (see the module's docstring)."""
    if setting != "auto":
        return ThreadChoice(int(setting), "given")
    most, source = ceiling()
    if device.type != "cpu":
        return ThreadChoice(
            most, f"auto: {most} ({source}; on {device.type} the CPU's threads only feed it)"
        )
    if most == 1:
        return ThreadChoice(1, f"auto: 1 ({source})")
    if not passive_wait():
        return ThreadChoice(
            1,
            "auto: 1 (OMP_WAIT_POLICY is not PASSIVE: more threads would "
            "spin, and slow down many times when another process takes a "
            "core)",
        )
    probe = make_probe() if make_probe is not None else None
    if probe is None:
        return ThreadChoice(most, f"auto: {most} ({source}; nothing to measure)")
    times = measure(counts_to_try(most), seconds_per_call(probe))
    chosen = pick(times)
    measured = ", ".join(f"{n}: {1000 * t:.1f} ms" for n, t in sorted(times.items()))
    return ThreadChoice(
        chosen, f"auto: {chosen} (measured {measured} a call; ceiling {most}, {source})"
    )


def choose_threads(
    setting: str | int, key: str, device: torch.device, make_probe: ProbeFactory | None = None
) -> ThreadChoice:
    """Set torch's thread count for `key=setting` (see the module's docstring); returns the
    choice for the command to log and record."""
    choice = replace(decide(str(setting), device, make_probe), key=key)
    torch.set_num_threads(choice.threads)
    return choice
