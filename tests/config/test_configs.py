"""Every config option composes, validates, and maps to a registry entry (the experiment
presets: tests/config/test_presets.py, which trains each)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from omegaconf import DictConfig

from gancli.conditioning import CONDITIONINGS
from gancli.data import DATASETS
from gancli.losses import LOSSES
from gancli.models import MODELS
from tests.conftest import REPO, compose_train

CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group, registry",
    [("data", DATASETS), ("model", MODELS), ("loss", LOSSES), ("conditioning", CONDITIONINGS)],
)
def test_every_yaml_option_has_a_registry_entry(group: str, registry: dict) -> None:
    assert options(group) == sorted(registry)
    for option in options(group):
        assert compose_train(f"{group}={option}")[group].name == option


def test_defaults_are_the_embedded_run() -> None:
    cfg = compose_train()
    assert (cfg.data.name, cfg.model.name, cfg.loss.name) == ("digits", "dcgan", "ns")
    assert cfg.train.n_critic == 1 and cfg.latent.dim == 100


def test_the_digits_dcgan_recipe_applies_to_that_pair_only_and_yields() -> None:
    """conf/recipe/digits_dcgan.yaml and conf/augment/recipe/digits_dcgan.yaml tune the default
    pair, whatever the loss; another data or model has no recipe (the schema's defaults, no
    augmentation); a preset's keys and the command line win, `augment=none` included."""

    def recipe(cfg: DictConfig) -> tuple:
        return (
            cfg.model.width,
            cfg.train.steps,
            cfg.augment.name,
            list(cfg.augment.get("policy", [])),
        )

    tuned = (32, 10000, "diffaug", ["translation"])
    assert recipe(compose_train()) == recipe(compose_train("loss=hinge")) == tuned
    assert recipe(compose_train("data=mnist")) == (64, 3000, "none", [])
    assert recipe(compose_train("data=ring8", "model=mlp"))[1:] == (3000, "none", [])
    assert recipe(compose_train("experiment=digits_class")) == (64, 2000, "none", [])
    assert recipe(compose_train("augment=none", "model.width=48")) == (48, 10000, "none", [])
    assert recipe(compose_train("augment=diffaug"))[3] == ["color", "translation", "cutout"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("gancli-*.whl")
    return built


def test_wheel_ships_the_config_tree(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for option in ["train", "sample", "eval", "prepare"]:
        assert f"gancli/conf/{option}.yaml" in names
    for group in ("data", "model", "loss", "optim", "conditioning", "experiment"):
        for option in options(group):
            assert f"gancli/conf/{group}/{option}.yaml" in names
    assert "gancli/conf/hydra/job_logging/gancli.yaml" in names
    for module in (REPO / "gancli").rglob("*.py"):  # every module of every sub-package
        assert module.relative_to(REPO).as_posix() in names, f"{module} is not packaged"


def test_installed_wheel_finds_its_configs_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    """Installed from the wheel (not the source tree), `gancli train --help` composes from the
    packaged `gancli.conf`, whatever the working directory."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys, gancli\nfrom gancli.cli import main\nsys.argv = ['gancli', 'train', "
        "'--help']\nsys.stderr.write('FROM=' + gancli.__file__ + '\\n')\nmain()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"FROM={target}" in proc.stderr
    assert "loss: " in proc.stdout and "minimax" in proc.stdout
