"""What the generator is conditioned on: `conditioning=none|class|text|image` picks a mode from
`CONDITIONINGS`.

A mode decides what a training batch carries besides real data (class labels, caption tokens, an
input image), how G and D are built to take it, and what each player's loss adds to the GAN
objective (mismatched pairs, an auxiliary classifier, L1 to the target). The training loop calls
the mode and never branches on its name; a new mode is one module registering a `Conditioning`
subclass plus one YAML in `conf/conditioning/`.
"""

from __future__ import annotations

from omegaconf import DictConfig

from gancli.conditioning.base import Batch, Conditioning, Groups
from gancli.data import DataInfo
from gancli.registry import Registry

CONDITIONINGS: Registry[type[Conditioning]] = Registry("conditioning")
#: Class decorator: make a mode available as `conditioning=<name>`.
register_conditioning = CONDITIONINGS.register
register_conditioning("none")(Conditioning)


def build_conditioning(cfg: DictConfig, info: DataInfo, state: dict | None = None) -> Conditioning:
    """The mode `cfg.conditioning.name` for a `TrainAppConfig`, given the groups it reads;
    `state` is what a checkpoint saved of it (a text vocabulary), so that a saved model is
    rebuilt exactly."""
    groups = Groups(cfg.conditioning, cfg.model, cfg.latent.dim, cfg.data)
    return CONDITIONINGS.lookup(cfg.conditioning.name)(groups, info, state)


__all__ = [
    "CONDITIONINGS",
    "Batch",
    "Conditioning",
    "Groups",
    "build_conditioning",
    "register_conditioning",
]

# Fill the registry.
from gancli.conditioning import image, label, text  # noqa: E402,F401
