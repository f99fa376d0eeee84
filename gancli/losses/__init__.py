"""GAN objectives by name: `loss=<name>` picks a class from `LOSSES`.

The discriminator's objective decides which divergence between data and generator the game
minimises, so each loss also reports the estimate of that divergence its D objective implies
(JS for the minimax family, Wasserstein-1 for WGAN, the chosen f-divergence for f-GAN, a
relativistic divergence for RpGAN; each module's docstring derives its own). A new loss is one
class registered here plus one YAML in `conf/loss/`; the training loop never branches on the
loss's name.
"""

from __future__ import annotations

from omegaconf import DictConfig

from gancli.losses.base import DiscriminatorStep, GANLoss
from gancli.registry import Registry

LOSSES: Registry[type[GANLoss]] = Registry("loss")


#: Class decorator: make a loss available as `loss=<name>`.
register_loss = LOSSES.register


def build_loss(cfg: DictConfig) -> GANLoss:
    """The loss `cfg.name`, configured by the rest of `cfg` (a `LossConfig`)."""
    return LOSSES.lookup(cfg.name)(cfg)


__all__ = ["LOSSES", "DiscriminatorStep", "GANLoss", "build_loss", "register_loss"]

# Fill the registry.
from gancli.losses import fgan, hinge, js, lsgan, relativistic, wasserstein  # noqa: E402,F401
