"""Every preset in conf/experiment/ composes with what it chose and trains, shrunk to 2 steps.

The presets are read from the folder, so a new one is covered without editing this file. Each
trains in-process at a tiny size (8 channels, 8-pixel images or 512 points, batch 8); the
checkpoint then has to show the preset's choices at work, not only in the config: its groups
and keys, spectral norm on D where the preset asks for it, an EMA of G where it keeps one, and
D updated `n_critic` times per G update.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.losses import LOSSES
from gancli.training.loop import Trainer
from tests.conftest import REPO, TINY, compose_train, last_line, run_cli

EXPERIMENTS = REPO / "conf" / "experiment"
PRESETS = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))

STEPS = 2
# What shrinks a preset to a test: these keys are the test's, every other key the preset's.
SIZE: dict[str, Any] = {
    "model.width": 8,
    "train.steps": STEPS,
    "train.batch_size": 8,
    "train.log_every": 1,
    "train.sample_every": STEPS,
    "train.ckpt_every": STEPS,
    "train.sample_n": 16,
    "train.device": "cpu",
    "train.eval_every": 0,
}
IMAGE_SIZE = {"data.resolution": 8}
POINTS_SIZE = {"data.num_points": 512}
# Datasets read from files: the fixture that finds them (and skips, saying why, without them).
DATA_ROOTS = {"mnist": "mnist_root", "stacked_mnist": "mnist_root", "fashion_mnist": "fashion_root"}


def _dotted(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def preset(name: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The options a preset picks (`override /loss: hinge` → {"loss": "hinge"}) and the keys
    it sets, dotted (`train.n_critic` → 5), as its YAML says them."""
    body = OmegaConf.to_container(OmegaConf.load(EXPERIMENTS / f"{name}.yaml"))
    choices = {}
    for entry in body.pop("defaults", []):
        ((group, option),) = entry.items()
        choices[group.removeprefix("override").strip(" /")] = option
    return choices, dict(_dotted(body))


def value_at(cfg: Any, key: str) -> Any:
    node = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(node) if OmegaConf.is_config(node) else node


def resolved(cfg: Any, value: Any) -> Any:
    """A preset's value as the composed config holds it: `${train.steps}` is that key's."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value_at(cfg, value[2:-1])
    return value


def test_presets_are_found() -> None:
    assert {"ring8", "sngan", "mnist_dcgan", "mnist_inpaint"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes_with_its_choices(name: str) -> None:
    """Without any data: the composed config holds every option and key the preset names."""
    choices, keys = preset(name)
    cfg = compose_train(f"experiment={name}")
    assert {group: cfg[group].name for group in choices} == choices
    assert {key: value_at(cfg, key) for key in keys} == {
        k: resolved(cfg, v) for k, v in keys.items()
    }


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_two_steps_and_keeps_its_choices(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    choices, keys = preset(name)
    data = compose_train(f"experiment={name}").data
    size = {
        **SIZE,
        **(IMAGE_SIZE if "resolution" in data else {}),
        **(POINTS_SIZE if "num_points" in data else {}),
    }
    if data.name in DATA_ROOTS:
        size["data.root"] = request.getfixturevalue(DATA_ROOTS[data.name])
    proc = run_cli(
        "train", f"experiment={name}", *(f"{k}={v}" for k, v in size.items()), cwd=tmp_path
    )
    run = Path(last_line(proc.stdout))

    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == STEPS
    cfg = OmegaConf.create(ckpt["config"])
    assert {group: cfg[group].name for group in choices} == choices
    kept = {key: value for key, value in keys.items() if key not in size}
    assert {key: value_at(cfg, key) for key in kept} == kept

    normalised = any("parametrizations.weight.original" in key for key in ckpt["D"])
    assert normalised == (cfg.model.spectral_norm or LOSSES[cfg.loss.name].needs_spectral_norm)
    assert (ckpt["G_ema"] is not None) == (cfg.train.ema > 0)
    # Adam counts each parameter's updates: n_critic D updates per G update.
    assert {int(s["step"]) for s in ckpt["opt_d"]["state"].values()} == {STEPS * cfg.train.n_critic}
    assert {int(s["step"]) for s in ckpt["opt_g"]["state"].values()} == {STEPS}

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss_d" in r]
    assert [r["step"] for r in losses] == list(range(1, STEPS + 1))
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in losses)
    assert (run / "samples" / "final.png").is_file()
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())


# -- the Wasserstein losses' recipes (conf/recipe/loss, conf/recipe/wgan) -----------------------

#: What each loss trains with where no data/model recipe tunes it (data=mnist): (n_critic,
#: lr, betas, d_norm), each Wasserstein loss its paper's; the others the schema's defaults.
PAPER_RECIPES = {
    "wgan-gp": (5, 1e-4, [0.0, 0.9], "layer"),  # Gulrajani et al. 2017, Algorithm 1
    "wgan-lp": (5, 1e-4, [0.0, 0.9], "layer"),  # Petzka et al. 2018: WGAN-GP's setting
    "wgan-clip": (5, 5e-5, [0.0, 0.99], "batch"),  # Arjovsky et al. 2017: RMSProp 5e-5
    "wgan-sn": (5, 2e-4, [0.0, 0.9], "none"),  # Miyato et al. 2018: SNGAN's
    "ns": (1, 2e-4, [0.5, 0.999], "batch"),
}


def training_recipe(cfg: Any) -> tuple:
    return (cfg.train.n_critic, cfg.optim.lr_d, list(cfg.optim.betas), cfg.model.d_norm.value)


@pytest.mark.parametrize("loss", PAPER_RECIPES)
def test_each_wasserstein_loss_brings_its_papers_recipe(loss: str) -> None:
    cfg = compose_train("data=mnist", f"loss={loss}")
    assert training_recipe(cfg) == PAPER_RECIPES[loss]
    assert cfg.optim.lr_g == cfg.optim.lr_d and cfg.train.steps == 3000


def test_the_loss_recipe_yields_to_the_command_line_and_to_presets() -> None:
    """The command line wins key by key; a preset keeps its own keys (ring8: lr 1e-4, betas
    (0.5, 0.999), 8,000 steps) and takes the recipe's others; `~recipe/loss` drops it."""
    cfg = compose_train("loss=wgan-gp", "train.n_critic=2", "optim.betas=[0.5,0.999]")
    assert (cfg.train.n_critic, list(cfg.optim.betas), cfg.model.d_norm.value) == (
        2,
        [0.5, 0.999],
        "layer",
    )
    ring8 = compose_train("experiment=ring8", "loss=wgan-gp")
    assert training_recipe(ring8) == (5, 1e-4, [0.5, 0.999], "layer")
    assert ring8.train.steps == 8000
    assert training_recipe(compose_train("loss=wgan-gp", "~recipe/loss")) == (
        1,
        2e-4,
        [0.5, 0.999],
        "batch",
    )


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-lp", "wgan-clip", "wgan-sn"])
def test_the_wasserstein_recipes_fit_the_default_runs_time_on_its_data(loss: str) -> None:
    """On data=digits with model=dcgan (conf/recipe/wgan/digits_dcgan.yaml) five critic updates
    per G update get fewer G steps, at a learning rate that learns in them (the embedded
    default's own 10,000 steps: tests/config/test_configs.py)."""
    cfg = compose_train(f"loss={loss}")
    assert (cfg.train.steps, cfg.train.n_critic, cfg.optim.lr_g, cfg.optim.lr_d) == (
        900,
        5,
        5e-4,
        5e-4,
    )
    assert list(cfg.optim.betas) == PAPER_RECIPES[loss][2]


def test_wgan_gp_trains_with_its_recipe(tmp_path: Path) -> None:
    """Two steps of `loss=wgan-gp` on 16×16 digits (where DCGAN's D has a normalisation layer):
    D has layer norm and no batch norm anywhere, and is updated five times per G update."""
    trainer = Trainer(compose_train("loss=wgan-gp", *TINY, "data.resolution=16"), tmp_path)
    for _ in range(STEPS):
        stats = trainer.train_step(measure=True)
    assert all(math.isfinite(float(v)) for v in stats.values())
    kinds = {type(m) for m in trainer.gan.D.modules()}
    assert torch.nn.GroupNorm in kinds and torch.nn.BatchNorm2d not in kinds
    assert {int(s["step"]) for s in trainer.gan.opt_d.state_dict()["state"].values()} == {STEPS * 5}
