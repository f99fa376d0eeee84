"""The interface every GAN objective implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn


@dataclass
class DiscriminatorStep:
    """D's loss for one update, plus detached statistics for logging.

    `d_real` / `d_fake` are mean D outputs read the way the loss reads them (a probability for
    the JS family, a critic value for WGAN); `divergence` is the estimate of the divergence
    that D's current objective value implies.
    """

    loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    divergence: torch.Tensor


class GANLoss(ABC):
    """One GAN objective: D's loss on (real, fake) batches and G's loss on a fake batch.

    Both methods receive D itself, not only its outputs, so that losses with penalties on D's
    gradients (WGAN-GP, R1) fit the same interface.
    """

    #: What `divergence` estimates, for logs and docs.
    divergence_name: str = ""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg

    @abstractmethod
    def discriminator(self, D: nn.Module, real: torch.Tensor,
                      fake: torch.Tensor) -> DiscriminatorStep:
        """D's loss to minimise; `fake` is already detached from G."""

    @abstractmethod
    def generator(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        """G's loss to minimise."""

    def after_discriminator_step(self, D: nn.Module) -> None:  # noqa: B027 (optional hook)
        """Called after each optimizer step of D: where a constraint such as weight clipping
        projects D back onto its allowed set. Nothing by default."""
