"""Where one job of a sweep runs on a machine it shares with the sweep's other jobs.

Hydra's local parallel launcher (`hydra/launcher=joblib`) starts every job on the same default
GPU (hydra #1331, #2757): nothing tells a job which of the machine's GPUs is its own. Here, in a
sweep whose jobs run at once, `device=auto` gives job *j* a GPU of its own: it prefers GPU *j*
mod the visible count and claims it with an advisory lock, one file per GPU named by the GPU's
UUID (so two sweeps on the machine, or two `CUDA_VISIBLE_DEVICES` orders of the same GPUs,
agree); when another job holds that one it takes the next free one. The OS drops a lock when its
process dies, so a killed job frees its GPU. With more running jobs than GPUs none is free: job
*j* then shares GPU *j* mod count, with a warning. Jobs run one after the other in one process
(Hydra's basic launcher) each start from GPU 0 instead, so that the process holds one CUDA
context. Schedulers do this with resources of their own (Slurm's gres, Ray's GPU ids); nothing
does it for plain processes on one machine, hence the few lines here.

`CUDA_VISIBLE_DEVICES` set by the user or a scheduler is respected: it decides which GPUs are
visible and their order, and only those are shared out. On the CPU nothing is claimed: joblib's
workers start with `OMP_NUM_THREADS` = cores // n_jobs (loky's own rule), so parallel jobs do not
thrash the cores, and each run records the threads it had.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch

from gancli.errors import GancliError
from gancli.files import atomic_write
from gancli.launch.devices import resolve_device

try:
    import fcntl
except ImportError:  # Windows: no flock; jobs take GPU j mod count unclaimed
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("gancli")

#: Where the GPU locks live (one empty file per GPU); GANCLI_GPU_LOCKS moves them.
LOCKS_ENV = "GANCLI_GPU_LOCKS"


@dataclass(frozen=True)
class SweepJob:
    """One job of a multirun, as the command that runs it reads it from Hydra
    (`gancli.commands.hydra_seam.sweep_job`): its number, its sweep's folder, and whether the
    sweep's jobs run at the same time in processes of their own (`parallel_sweep` there)."""

    num: int
    sweep_dir: str
    parallel: bool


@dataclass(frozen=True)
class JobDevice:
    """Where this job runs: its device, whether it shares its GPU with another running job of
    a sweep, and its place in that sweep (None outside one)."""

    device: torch.device
    shared: bool = False
    sweep: SweepJob | None = None

    @property
    def job(self) -> int | None:
        """Its job number in the sweep (None outside one)."""
        return None if self.sweep is None else self.sweep.num

    def __str__(self) -> str:
        """As the training log names it: `cuda:1 (NVIDIA H200), sweep job 3`."""
        where = self.describe()
        return (
            f"{where['device']}"
            + (f" ({where['gpu']})" if where["gpu"] else "")
            + (", shared with another job" if self.shared else "")
            + (f", sweep job {self.job}" if self.job is not None else "")
        )

    def describe(self) -> dict[str, object]:
        """What `metrics.jsonl` and `job.json` record of it."""
        gpu = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None
        return {
            "device": str(self.device),
            "gpu": gpu,
            "gpu_shared": self.shared,
            "threads": torch.get_num_threads(),
            "job": self.job,
        }


def gpu_order(job: int, count: int) -> list[int]:
    """The GPUs job `job` tries, in order: its own (`job` mod `count`), then the ones after it,
    wrapping round. Job j of a sweep with at most `count` jobs running at once always finds a
    free one; which one is free depends only on which are held."""
    first = job % count
    return [(first + k) % count for k in range(count)]


def lock_folder() -> Path:
    """The folder of GPU locks: $GANCLI_GPU_LOCKS, else one per user in the temp folder."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers run as -u N)
        user = str(os.getuid())
    default = Path(tempfile.gettempdir()) / f"gancli-gpu-locks-{user}"
    path = Path(os.environ.get(LOCKS_ENV) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def try_lock(path: Path) -> IO[bytes] | None:
    """The open lock file at `path`, exclusively locked, or None when another process (or
    another open of it in this one) holds it."""
    handle = open(path, "ab")  # noqa: SIM115 (held for the job's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


@contextmanager
def claimed_gpu(job: int, uuids: list[str], folder: Path) -> Iterator[tuple[int, bool]]:
    """Claim the first free GPU of `gpu_order(job, len(uuids))` for the `with` block; yields
    its index and whether it is shared (all were held: job mod count, unclaimed)."""
    order = gpu_order(job, len(uuids))
    if fcntl is None:
        yield order[0], False
        return
    for index in order:
        handle = try_lock(folder / f"{uuids[index]}.lock")
        if handle is not None:
            try:
                yield index, False
            finally:
                handle.close()  # closing the file drops the lock
            return
    yield order[0], True


def gpu_uuid(index: int) -> str:
    """A name for visible GPU `index` that is the same whatever `CUDA_VISIBLE_DEVICES` says."""
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    return f"GPU-{uuid}" if uuid is not None else f"index-{index}"


class JobDevices:
    """Resolves one command's device choice (`train.device`, ...); for a job of a multirun
    (`sweep`) on a GPU machine, `auto` claims a GPU for this job (see the module's docstring),
    makes it the current device and holds it until the `with` block ends. Resolution waits
    until the command knows its final choice: a resumed run's comes from its checkpoint."""

    def __init__(self, sweep: SweepJob | None = None) -> None:
        self.sweep = sweep
        self._claims = ExitStack()
        #: What the last `resolve` chose (None before it).
        self.chosen: JobDevice | None = None

    def __enter__(self) -> JobDevices:
        return self

    def __exit__(self, *exc: object) -> None:
        self._claims.close()

    def resolve(self, choice: str, key: str) -> torch.device:
        sweep = self.sweep
        if choice != "auto" or sweep is None or not torch.cuda.is_available():
            device = resolve_device(choice, key)
            if device.type == "cuda":  # `cuda:K` current too: `.cuda()`, NCCL, streams use it
                torch.cuda.set_device(device)
            self.chosen = JobDevice(device, sweep=sweep)
            return self.chosen.device
        job, count = sweep.num, torch.cuda.device_count()
        # Jobs run one after the other in this process start from GPU 0 each time (one CUDA
        # context), still stepping round a GPU that another sweep's job holds.
        slot = job if sweep.parallel else 0
        index, shared = self._claims.enter_context(
            claimed_gpu(slot, [gpu_uuid(k) for k in range(count)], lock_folder())
        )
        if shared:
            log.warning(
                "job %d shares cuda:%d: each of the %d visible GPUs is held by another "
                "job; run at most %d jobs at once (hydra.launcher.n_jobs) for a GPU "
                "each",
                job,
                index,
                count,
                count,
            )
        else:
            log.info("job %d runs on cuda:%d of %d visible GPUs", job, index, count)
        torch.cuda.set_device(index)
        self.chosen = JobDevice(torch.device("cuda", index), shared=shared, sweep=sweep)
        return self.chosen.device


@dataclass
class JobOutcome:
    """What a sweep job's command reports at its end, for `job.json` (see `job_record`)."""

    metric: str | None = None
    value: float | None = None
    #: Whether a higher value of `metric` is better (the summary's best run).
    higher: bool = False

    def finish(self, metric: str, value: float, higher: bool) -> None:
        self.metric, self.value, self.higher = metric, value, higher


@contextmanager
def job_record(run_dir: Path, devices: JobDevices) -> Iterator[JobOutcome]:
    """For a job of a multirun, write `run_dir/job.json` when the `with` block ends: where it
    ran (`JobDevice.describe`, and the process), its wall time, the value it returned to the
    sweeper and its name, and its status (`done`, `failed` with the error's line, or
    `stopped`). The sweep's summary (`gancli.launch.sweep_summary`) reads these files: a parallel
    launcher's jobs run in other processes, whose return values the end-of-sweep callback
    never sees."""
    outcome, start = JobOutcome(), time.perf_counter()
    status, error = "stopped", None
    try:
        yield outcome
        status = "done"
    except GancliError as err:
        status, error = "failed", str(err)
        raise
    finally:
        if devices.sweep is not None:
            where = devices.chosen.describe() if devices.chosen is not None else {}
            value = outcome.value
            record = {
                "job": devices.sweep.num,
                **where,
                "pid": os.getpid(),
                "seconds": round(time.perf_counter() - start, 3),
                "status": status,
                "error": error,
                "metric": outcome.metric,
                "higher": outcome.higher,
                "value": None if value is None or math.isnan(value) else value,
            }
            atomic_write(
                run_dir / "job.json", lambda f: f.write(json.dumps(record, indent=1).encode())
            )
