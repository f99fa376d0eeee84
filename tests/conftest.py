"""Shared helpers: run the real `gancli` script, compose configs in-process, find shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from gancli.config import register_configs

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
GANCLI = Path(sys.executable).with_name("gancli")

# Small and fast: 8×8 digits, narrow DCGAN, a few steps.
TINY = ["data.resolution=8", "model.width=8", "train.batch_size=16", "train.steps=20",
        "train.log_every=5", "train.sample_every=10", "train.ckpt_every=10", "train.device=cpu"]

register_configs()


def run_gancli(*args: str, cwd: Path, check: bool = True,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script; `check` asserts exit status 0 and shows stderr if not."""
    proc = subprocess.run([str(GANCLI), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)
    if check:
        assert proc.returncode == 0, f"gancli {' '.join(args)} failed:\n{proc.stderr}"
    return proc


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
        pytest.skip(f"{label} original files not found at {root} (the repository's "
                    "../shared/data)")
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
    proc = run_gancli("train", *TINY, cwd=cwd)
    return Path(last_line(proc.stdout))


@pytest.fixture(scope="session")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short 2D-points run (ring8, MLP)."""
    cwd = tmp_path_factory.mktemp("ring")
    proc = run_gancli("train", "data=ring8", "model=mlp", "model.width=32", "train.steps=20",
                      "train.batch_size=64", "train.log_every=10", "train.sample_every=10",
                      "train.ckpt_every=10", "train.device=cpu", "data.num_points=2000",
                      cwd=cwd)
    return Path(last_line(proc.stdout))
