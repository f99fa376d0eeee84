"""The registries behind optim=, augment=, augment.policy, latent.dist, train.precision and the
data kinds: each lists its options, the YAML options are its names, and an unknown name fails
with the one registry line naming the valid ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from gancli.data import DataInfo
from gancli.data.kinds import DATA_KINDS, data_kind
from gancli.errors import GancliError
from gancli.models.latent import LATENTS, interpolation_latents, sample_latent
from gancli.training.augment import AUGMENTS, build_augment
from gancli.training.augment.diffaug import POLICIES
from gancli.training.optimizers import OPTIMIZERS, build_optimizer
from gancli.training.precision import PRECISIONS, build_precision
from tests.conftest import REPO, compose_train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))


def one_line(kind: str, name: str, choices: str) -> str:
    """The exact registry message, as a regex."""
    return f"^{re.escape(f'unknown {kind} {name!r}; choose one of: {choices}')}$"


def test_each_registry_lists_its_options() -> None:
    assert list(OPTIMIZERS) == ["adam"]
    assert list(AUGMENTS) == ["none", "diffaug"]
    assert list(POLICIES) == ["color", "translation", "cutout"]
    assert list(LATENTS) == ["normal", "uniform"]
    assert list(PRECISIONS) == ["fp32", "bf16", "fp16"]
    assert list(DATA_KINDS) == ["image", "points"]


@pytest.mark.parametrize("group, registry", [("optim", OPTIMIZERS), ("augment", AUGMENTS)])
def test_every_yaml_option_is_a_registry_entry(group: str, registry: dict) -> None:
    assert options(group) == sorted(registry)
    for option in options(group):
        assert compose_train(f"{group}={option}")[group].name == option


def test_default_optimizer_is_adam_with_the_configured_settings() -> None:
    cfg = compose_train("optim.betas=[0.0,0.9]").optim
    opt = build_optimizer(cfg, torch.nn.Linear(2, 1).parameters(), 1e-3)
    assert isinstance(opt, torch.optim.Adam)
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.0, 0.9)


def test_unknown_names_fail_with_the_registry_line() -> None:
    with pytest.raises(GancliError, match=one_line("optimizer", "sgd", "adam")):
        build_optimizer(OmegaConf.create({"name": "sgd", "betas": [0.5, 0.9]}), [], 1e-3)
    with pytest.raises(GancliError, match=one_line("augment", "mixup", "none, diffaug")):
        build_augment(OmegaConf.create({"name": "mixup"}))
    with pytest.raises(
        GancliError,
        match=one_line("DiffAugment policy (augment.policy)", "zoom", "color, translation, cutout"),
    ):
        build_augment(OmegaConf.create({"name": "diffaug", "policy": ["zoom"]}))
    with pytest.raises(
        GancliError,
        match=one_line("latent distribution (latent.dist)", "cauchy", "normal, uniform"),
    ):
        sample_latent(4, OmegaConf.create({"dim": 3, "dist": "cauchy"}))
    with pytest.raises(
        GancliError, match=one_line("precision (train.precision)", "fp8", "auto, fp32, bf16, fp16")
    ):
        build_precision("fp8", torch.device("cpu"))
    with pytest.raises(GancliError, match=one_line("kind of data", "voxels", "image, points")):
        data_kind(DataInfo("cube", "voxels", (1, 4, 4, 4), 0), lambda n: torch.zeros(1))


def test_fp16_needs_cuda_and_bf16_does_not() -> None:
    cpu = torch.device("cpu")
    with pytest.raises(GancliError, match="^train.precision=fp16 needs a CUDA device"):
        build_precision("fp16", cpu)
    bf16 = build_precision("bf16", cpu)
    with bf16.autocast():
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16
    with build_precision("fp32", cpu).autocast():
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.float32


def test_each_latent_distribution_draws_its_support_and_walks_its_own_path() -> None:
    g = torch.Generator().manual_seed(0)
    normal = OmegaConf.create({"dim": 64, "dist": "normal"})
    uniform = OmegaConf.create({"dim": 64, "dist": "uniform"})
    assert sample_latent(500, uniform, g).abs().max() <= 1
    assert sample_latent(500, normal, g).abs().max() > 1
    # Normal latents are walked on great circles (norms stay near the ends'), uniform ones on
    # straight lines (the midpoint is the mean of the ends).
    for latent, check in [(normal, "norm"), (uniform, "line")]:
        z = interpolation_latents(3, 5, latent, torch.Generator().manual_seed(1)).view(3, 5, -1)
        if check == "norm":
            ends = z[:, [0, -1]].norm(dim=-1).mean(dim=1)
            assert torch.allclose(z[:, 2].norm(dim=-1), ends, rtol=0.05)
        else:
            assert torch.allclose(z[:, 2], (z[:, 0] + z[:, -1]) / 2, atol=1e-6)


def test_a_latent_does_not_depend_on_how_many_are_drawn() -> None:
    latent = OmegaConf.create({"dim": 8, "dist": "normal"})
    few = sample_latent(3, latent, torch.Generator().manual_seed(5))
    many = sample_latent(300, latent, torch.Generator().manual_seed(5))
    assert torch.equal(few, many[:3])


def test_training_and_sampling_modules_import_nothing_from_hydra() -> None:
    """Hydra glue lives in gancli/commands/: the domain modules can be used without it."""
    import ast

    domain = [
        *(REPO / "gancli" / "training").glob("*.py"),
        REPO / "gancli" / "sampling.py",
        REPO / "gancli" / "models" / "latent.py",
        REPO / "gancli" / "data" / "kinds.py",
    ]
    for path in domain:
        for node in ast.walk(ast.parse(Path(path).read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "hydra" for n in names), f"{path} imports {names}"
