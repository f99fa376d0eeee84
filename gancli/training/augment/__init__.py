"""What D's input is augmented with (`augment=<name>`): a registry of builders, each taking
the `AugmentConfig` and returning the augmentation (None: D sees the data as it is). The
augmentation is applied to real and generated batches alike by `CriticView`. A new augmentation
is one module registering a builder plus one YAML in `conf/augment/`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from omegaconf import DictConfig

from gancli.registry import Registry

Augment = Callable[[torch.Tensor], torch.Tensor]
AugmentBuilder = Callable[[DictConfig], Augment | None]
AUGMENTS: Registry[AugmentBuilder] = Registry("augment")
#: Decorator: make a builder available as `augment=<name>`.
register_augment = AUGMENTS.register


@register_augment("none")
def no_augment(cfg: DictConfig) -> None:
    """D sees the data as it is."""
    return None


def build_augment(cfg: DictConfig) -> Augment | None:
    """The augmentation `cfg.name` (an `AugmentConfig`)."""
    return AUGMENTS.lookup(cfg.name)(cfg)


# Fill the registry.
from gancli.training.augment import diffaug  # noqa: E402,F401
