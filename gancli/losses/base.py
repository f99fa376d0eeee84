"""The interface every GAN objective implements, and the R1 and R2 penalties every one of them
can add."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
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


def uncompiled() -> AbstractContextManager:
    """A region where compiled modules run eagerly (`torch.compiler.set_stance`, torch >= 2.6;
    with older torch nothing, and `gancli.training.fast.compile_module` leaves a penalised D
    uncompiled instead). For double backpropagation: aot_autograd's compiled backward cannot be
    differentiated again, so `train.compile` crashed any gradient penalty at its first step."""
    set_stance = getattr(torch.compiler, "set_stance", None)
    return set_stance("force_eager") if set_stance is not None else nullcontext()


def input_gradient(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ D(x) per sample, flattened to N×features, kept in the graph so that a penalty on it
    can be minimised (double backpropagation). Computed in fp32 even inside an autocast region
    (`train.precision`): the penalties square its distance from a target, which low-precision
    arithmetic would swamp with rounding. D runs eagerly here under `train.compile`
    (`uncompiled`); its other calls stay compiled."""
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False), uncompiled():
        (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    return grad.flatten(1)


def zero_centred_penalty(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """E[||∇ₓ D(x)||²] on a batch (Mescheder et al. 2018, "Which training methods for GANs do
    actually converge?"): R1 on real data, R2 on generated data. R1 pushes D's gradient to zero
    on the data manifold, which makes the game locally convergent at the equilibrium where G
    matches the data; R2 does the same on G's samples, and the relativistic pairing loss with
    both is locally convergent (Huang et al. 2024, the R3GAN recipe)."""
    return input_gradient(D, x).pow(2).sum(dim=1).mean()


class GANLoss(ABC):
    """One GAN objective: D's loss on (real, fake) batches and G's loss on a fake batch (and the
    real batch beside it, which only relativistic objectives read).

    Both methods receive D itself, not only its outputs, so that losses with penalties on D's
    gradients (WGAN-GP, R1, R2) fit the same interface.
    """

    #: What `divergence` estimates, for logs and docs.
    divergence_name: str = ""
    #: Whether the objective only holds with a spectrally normalised D (Miyato et al. 2018):
    #: `build_gan` then normalises D whatever `model.spectral_norm` says.
    needs_spectral_norm: bool = False
    #: Whether the logged `d_real` / `d_fake` head for 1 and 0 as D wins (probabilities, or
    #: least-squares and hinge targets), so that the `d_wins` alert may read them so; a
    #: Wasserstein critic's values are unbounded scores whose size says nothing of who wins.
    outputs_near_one_and_zero: bool = True
    #: The value `divergence` cannot exceed, where D's objective pins it there once D wins
    #: (JS at log 2); None where the estimate has no such ceiling.
    divergence_ceiling: float | None = None

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        #: D updates so far, counted by `discriminator_updated`; the trainer sets it on resume,
        #: so lazy R1 and R2 fall on the same updates as in an unbroken run.
        self.d_updates = 0

    @abstractmethod
    def discriminator(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        """D's loss to minimise; `fake` is already detached from G."""

    @abstractmethod
    def generator(
        self, D: nn.Module, fake: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        """G's loss to minimise. `real` is the real batch D judged beside `fake` (the same
        conditions), for objectives that compare the two in G's step too (relativistic ones);
        the others ignore it."""

    @property
    def double_backward(self) -> bool:
        """Whether D's loss differentiates D's input gradient (R1 or R2 here, a subclass's
        gradient penalty): `train.compile` must then run that call of D eagerly (`uncompiled`)."""
        return self.cfg.r1_gamma > 0 or self.cfg.r2_gamma > 0

    def discriminator_step(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> DiscriminatorStep:
        """What the training loop minimises for D: the objective's own loss plus, when
        `loss.r1_gamma` > 0, the R1 penalty γ/2·E[||∇D(x_real)||²] and, when `loss.r2_gamma`
        > 0, the R2 penalty γ/2·E[||∇D(x_fake)||²] on the (detached) generated batch. The
        penalties are regularisers of D, not part of the game, so `divergence` stays the
        objective's estimate.

        With `loss.r1_every` = k > 1 R1 is lazy (StyleGAN2, Karras et al. 2020): only on every
        k-th D update, scaled by k, so its double backward costs 1/k as much (measured on a
        2-core CPU: R1 on every update made the digits DCGAN run 1.8x as long; on ring8's MLP,
        where the step is mostly overhead, k = 16 saved only 20%). `loss.r2_every` does the
        same for R2."""
        step = self.discriminator(D, real, fake)
        for name, x in (("r1", real), ("r2", fake)):
            gamma = self.cfg[f"{name}_gamma"]
            if gamma > 0 and self.d_updates % (every := self.cfg[f"{name}_every"]) == 0:
                step.loss = step.loss + every * gamma / 2 * zero_centred_penalty(D, x)
        return step

    def discriminator_updated(self, D: nn.Module) -> None:
        """Called once after each optimizer step of D: counts the update and runs the
        objective's `after_discriminator_step`."""
        self.d_updates += 1
        self.after_discriminator_step(D)

    def after_discriminator_step(self, D: nn.Module) -> None:  # noqa: B027 (optional hook)
        """Called after each optimizer step of D: where a constraint such as weight clipping
        projects D back onto its allowed set. Nothing by default."""
