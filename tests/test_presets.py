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
from tests.conftest import REPO, compose_train, last_line, run_cli

EXPERIMENTS = REPO / "conf" / "experiment"
PRESETS = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))

STEPS = 2
# What shrinks a preset to a test: these keys are the test's, every other key the preset's.
SIZE: dict[str, Any] = {"model.width": 8, "train.steps": STEPS, "train.batch_size": 8,
                        "train.log_every": 1, "train.sample_every": STEPS,
                        "train.ckpt_every": STEPS, "train.sample_n": 16, "train.device": "cpu",
                        "train.eval_every": 0}
IMAGE_SIZE = {"data.resolution": 8}
POINTS_SIZE = {"data.num_points": 512}
# Datasets read from files: the fixture that finds them (and skips, saying why, without them).
DATA_ROOTS = {"mnist": "mnist_root", "stacked_mnist": "mnist_root",
              "fashion_mnist": "fashion_root"}


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
    assert {key: value_at(cfg, key) for key in keys} == {k: resolved(cfg, v)
                                                          for k, v in keys.items()}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_two_steps_and_keeps_its_choices(name: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    choices, keys = preset(name)
    data = compose_train(f"experiment={name}").data
    size = {**SIZE, **(IMAGE_SIZE if "resolution" in data else {}),
            **(POINTS_SIZE if "num_points" in data else {})}
    if data.name in DATA_ROOTS:
        size["data.root"] = request.getfixturevalue(DATA_ROOTS[data.name])
    proc = run_cli("train", f"experiment={name}", *(f"{k}={v}" for k, v in size.items()),
                   cwd=tmp_path)
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
    assert {int(s["step"]) for s in ckpt["opt_d"]["state"].values()} == {
        STEPS * cfg.train.n_critic}
    assert {int(s["step"]) for s in ckpt["opt_g"]["state"].values()} == {STEPS}

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss_d" in r]
    assert [r["step"] for r in losses] == list(range(1, STEPS + 1))
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in losses)
    assert (run / "samples" / "final.png").is_file()
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())
