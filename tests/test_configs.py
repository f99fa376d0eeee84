"""Every config option composes, validates, and maps to a registry entry."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gancli.data import DATASETS
from gancli.losses import LOSSES
from gancli.models import MODELS
from tests.conftest import REPO, compose_train

CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group, registry", [("data", DATASETS), ("model", MODELS),
                                             ("loss", LOSSES)])
def test_every_yaml_option_has_a_registry_entry(group: str, registry: dict) -> None:
    assert options(group) == sorted(registry)
    for option in options(group):
        assert compose_train(f"{group}={option}")[group].name == option


def test_experiment_presets_compose() -> None:
    presets = options("experiment")
    assert presets
    for preset in presets:
        cfg = compose_train(f"experiment={preset}")
        assert cfg.train.steps > 0


def test_defaults_are_the_embedded_run() -> None:
    cfg = compose_train()
    assert (cfg.data.name, cfg.model.name, cfg.loss.name) == ("digits", "dcgan", "ns")
    assert cfg.train.n_critic == 1 and cfg.latent.dim == 100


def test_wheel_ships_the_config_tree(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("gancli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for option in ["train", "sample", "eval"]:
        assert f"gancli/conf/{option}.yaml" in names
    for group in ("data", "model", "loss", "optim", "conditioning", "experiment"):
        for option in options(group):
            assert f"gancli/conf/{group}/{option}.yaml" in names
    assert "gancli/conf/hydra/job_logging/gancli.yaml" in names
