"""The combinations of options from different groups that cannot train: one table, checked by
`gancli.config.validate` before data is read or a model built.

Each row is a predicate on the whole config and the one line that names the problem and the
fix. The groups' own code (a conditioning mode, an architecture, the training loop) then builds
what it is given without checking its neighbours. A combination that needs the data itself
(class labels, image channels) cannot be judged here and stays with the code that reads it.

A row reads keys with `OmegaConf.select`, so that it holds for any command's config: `gancli
sample` and `gancli eval` have no `model` or `augment` group, and a row whose keys are missing
does not refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gancli.config.schemas import PointsDataConfig, option_schema
from gancli.errors import ConfigError


def _get(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)


def points(cfg: DictConfig) -> bool:
    """Whether `data=` is a 2D point set rather than images: its option's schema says, the
    one on the config or else the one its YAML names."""
    if _get(cfg, "data") is None:
        return False
    schema = OmegaConf.get_type(cfg.data)
    if schema is dict:  # built without the schemas (a test's, an old checkpoint's)
        schema = option_schema("data", cfg.data.name)
    return isinstance(schema, type) and issubclass(schema, PointsDataConfig)


def _penalties(cfg: DictConfig) -> list[str]:
    """The gradient penalties on D's input that `loss` asks for, as `loss.key=value`."""
    return [
        f"loss.{key}={value}"
        for key in ("r1_gamma", "r2_gamma", "gp_weight")
        if (value := _get(cfg, f"loss.{key}", 0)) > 0
    ]


@dataclass(frozen=True)
class Rule:
    """One combination that cannot train: `refuses(cfg)` holds for it, `line(cfg)` says why
    and what to change."""

    refuses: Callable[[DictConfig], bool]
    line: Callable[[DictConfig], str]


def _conditioning(cfg: DictConfig) -> str:
    return _get(cfg, "conditioning.name", "none")


#: Every cross-group rule, in the order they are checked (the first that holds is reported).
RULES: tuple[Rule, ...] = (
    Rule(
        lambda c: _get(c, "augment.name", "none") != "none" and points(c),
        lambda c: (
            f"augment={c.augment.name} augments images and data={c.data.name} is 2D "
            "points: use augment=none"
        ),
    ),
    Rule(
        lambda c: _conditioning(c) == "image" and points(c),
        lambda c: (
            f"conditioning=image translates images and data={c.data.name} is 2D points: "
            "use an image dataset or data=paired_folder"
        ),
    ),
    Rule(
        lambda c: _conditioning(c) == "image" and _get(c, "model.name") != "pix2pix",
        lambda c: (
            f"conditioning=image needs model=pix2pix (U-Net + PatchGAN), not "
            f"model={_get(c, 'model.name')}: add model=pix2pix"
        ),
    ),
    # The augmentation would change the image D judges but not the input it is paired with.
    Rule(
        lambda c: _conditioning(c) == "image" and _get(c, "augment.name", "none") != "none",
        lambda c: (
            "augment would change the image D judges but not the input it is paired "
            "with: use augment=none with conditioning=image"
        ),
    ),
    Rule(
        lambda c: _conditioning(c) == "image" and _get(c, "train.pack", 1) > 1,
        lambda c: "train.pack (PacGAN) does not apply to image pairs: set train.pack=1",
    ),
    Rule(
        lambda c: _conditioning(c) in ("class", "text") and _get(c, "train.pack", 1) > 1,
        lambda c: (
            "train.pack (PacGAN) joins unrelated samples into one input of D, which "
            f"conditioning={_conditioning(c)} cannot label: set train.pack=1"
        ),
    ),
    # Every architecture but the MLP is convolutional.
    Rule(
        lambda c: _get(c, "model.name", "mlp") != "mlp" and points(c),
        lambda c: (
            f"model={c.model.name} needs image data, but data={c.data.name} is 2D "
            "points: use model=mlp"
        ),
    ),
    Rule(
        lambda c: _get(c, "model.name") == "pix2pix" and _conditioning(c) != "image",
        lambda c: "model=pix2pix translates images: use it with conditioning=image",
    ),
    # SyncBatchNorm's backward is not twice differentiable, so a penalty on D's input gradient
    # crashes its double backward on a D that keeps batch norm: refused here rather than on
    # the GPUs, after the start-up.
    Rule(
        lambda c: (
            bool(_get(c, "train.sync_batchnorm", False))
            and _get(c, "model.d_norm") == "batch"
            and bool(_penalties(c))
        ),
        lambda c: (
            f"train.sync_batchnorm=true with {_penalties(c)[0]} cannot train: the "
            "penalty's double backward is not supported by SyncBatchNorm, which D keeps "
            "(model.d_norm=batch); set model.d_norm=layer or train.sync_batchnorm=false"
        ),
    ),
)


def refuse_combinations(cfg: DictConfig) -> None:
    """Raise the line of the first rule `cfg` breaks."""
    for rule in RULES:
        if rule.refuses(cfg):
            raise ConfigError(rule.line(cfg))
