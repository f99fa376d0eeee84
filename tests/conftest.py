"""Shared helpers: run `gancli` in this process or as the real script, compose configs
in-process, find shared data."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

# Before torch loads OpenMP (here, and in every `gancli` process the tests start). `make test`
# runs the suite on one pytest-xdist worker per core, so each worker computes on one thread;
# the tests' models are tiny, for which one thread beats two even alone (test_divergences.py:
# 83 s on two threads, 54 s on one). Where threads do share cores, spinning while they wait for
# each other slows torch's CPU kernels many times over (one critic 49 s spinning, 3.5 s passive).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from gancli import cli  # noqa: E402
from gancli.commands import hydra_seam  # noqa: E402
from gancli.config import register_configs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
GANCLI = Path(sys.executable).with_name("gancli")

# Small and fast: 8×8 digits, narrow DCGAN, a few steps.
# augment=none: the embedded default's DiffAugment (conf/augment/recipe/digits_dcgan.yaml) would
# make repeated D calls differ; the tests of augmentation choose it themselves. fp32 in the
# contiguous layout: the tests' values are fp32's, and their tiny models gain nothing from the
# fast path that `auto` measures (tests/training/test_fast.py tests it).
TINY = [
    "augment=none",
    "data.resolution=8",
    "model.width=8",
    "train.batch_size=16",
    "train.steps=20",
    "train.log_every=5",
    "train.sample_every=10",
    "train.ckpt_every=10",
    "train.device=cpu",
    "train.precision=fp32",
    "train.channels_last=false",
]

register_configs()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `gpu` need CUDA: skipped, saying so, on a machine without it. The marker
    (not a `skipif` in each file) lets `pytest -m gpu` run exactly the CUDA checks on a GPU."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (marker gpu): run `pytest -m gpu` on a GPU machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def run_gancli(
    *args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script; `check` asserts exit status 0 and shows stderr if not.

    For what only a real process shows: the console script itself, exit statuses and signals
    through the OS, imports (no torch on help paths). Everything else: `run_cli`."""
    proc = subprocess.run(
        [str(GANCLI), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    if check:
        assert proc.returncode == 0, f"gancli {' '.join(args)} failed:\n{proc.stderr}"
    return proc


@dataclass(frozen=True)
class Result:
    """What one in-process `gancli` call left. The fields are named as
    `subprocess.CompletedProcess`'s, so a test moves between `run_gancli` and `run_cli` by the
    function's name alone."""

    returncode: int
    stdout: str
    stderr: str


# cwd -> the last wall-clock second in which a `run_cli` call there was still running.
_busy_until: dict[Path, int] = {}


def _next_run_folder_second(cwd: Path) -> None:
    """Hydra names run folders by the second (outputs/<command>/<date>/<time>). Separate
    processes, 4 s of imports each, never started two runs in one second; in-process runs do,
    and two runs in one folder would write into one run folder. Wait for a fresh second."""
    last = _busy_until.get(cwd)
    now = time.time()
    if last is not None and int(now) <= last:
        time.sleep(last + 1 - now)


@contextmanager
def _cli_process_state(cwd: Path) -> Iterator[None]:
    """Run in `cwd` as a fresh process would, and leave this process as it was: cwd, argv,
    the root logger's handlers (Hydra replaces them per job; closed here, so no run folder's
    log file stays open), Hydra's global state (a second `@hydra.main` or `compose` refuses to
    start while it is set) and `gancli.commands.hydra_seam.failed_jobs` (a sweep's failures are
    per process)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_argv, saved_cwd = sys.argv[:], os.getcwd()
    hydra_seam.failed_jobs.clear()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        for handler in root.handlers:
            if handler not in saved_handlers:
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
        hydra_seam.failed_jobs.clear()


def run_cli(*args: str, cwd: Path, check: bool = True) -> Result:
    """`gancli *args` in this process: `run_gancli` without the 4 s of imports a new process
    pays. stdout and stderr are captured as the script's streams would be, log lines included
    (Hydra's log handlers bind to the `sys.stderr` current when a job starts: the capture
    here). `check` asserts exit status 0 and shows stderr if not."""
    cwd = Path(cwd).resolve()
    _next_run_folder_second(cwd)
    out, err = io.StringIO(), io.StringIO()
    with _cli_process_state(cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:
            code = exit_.code
            if code is not None and not isinstance(code, int):  # sys.exit("message")
                err.write(f"{code}\n")
                code = 1
    _busy_until[cwd] = int(time.time())
    result = Result(code or 0, out.getvalue(), err.getvalue())
    if check:
        assert result.returncode == 0, f"gancli {' '.join(args)} failed:\n{result.stderr}"
    return result


def signal_when(
    cmd: list[str],
    cwd: Path,
    logged: str,
    send: Callable[[subprocess.Popen], None],
    env: dict | None = None,
    timeout: float = 180,
) -> tuple[int, str]:
    """Run `cmd`, call `send(process)` once a line of its stderr matches the regular expression
    `logged` (it is then in the training loop), wait for it; returns its exit status and all it
    wrote to stderr. A hung process is killed after `timeout` s, ending the test, not the suite."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        seen = []
        for line in proc.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if re.match(logged, line):
                send(proc)
                break
        _, err = proc.communicate(timeout=timeout)
    finally:
        watchdog.cancel()
    return proc.returncode, "".join(seen) + err


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def compose_train(*overrides: str) -> DictConfig:
    """The composed `gancli train` config, as Hydra builds it for the CLI."""
    with initialize_config_module(config_module="gancli.conf", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


@pytest.fixture(scope="session", autouse=True)
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One evaluation cache for the whole session (classifiers train once), never the user's."""
    path = tmp_path_factory.mktemp("gancli-cache")
    os.environ["GANCLI_CACHE"] = str(path)
    return path


def shared_dataset(folder: str, label: str) -> Path:
    """`../shared/data/<folder>`, or skip saying why when a clone elsewhere lacks it."""
    root = SHARED_DATA / folder
    if not (root / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{label} original files not found at {root} (the repository's ../shared/data)")
    return root


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    return shared_dataset("mnist", "MNIST")


@pytest.fixture(scope="session")
def fashion_root() -> Path:
    return shared_dataset("fashion-mnist", "Fashion-MNIST")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real training run shared by the sampling and checkpoint tests."""
    cwd = tmp_path_factory.mktemp("tiny")
    return Path(last_line(run_cli("train", *TINY, cwd=cwd).stdout))


@pytest.fixture(scope="session")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short 2D-points run (ring8, MLP)."""
    cwd = tmp_path_factory.mktemp("ring")
    proc = run_cli(
        "train",
        "data=ring8",
        "model=mlp",
        "model.width=32",
        "train.steps=20",
        "train.batch_size=64",
        "train.log_every=10",
        "train.sample_every=10",
        "train.ckpt_every=10",
        "train.device=cpu",
        "data.num_points=2000",
        cwd=cwd,
    )
    return Path(last_line(proc.stdout))
