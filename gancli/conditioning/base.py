"""The interface every conditioning mode implements, which is also `conditioning=none`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.losses.base import DiscriminatorStep, GANLoss
from gancli.models import build_models


@dataclass
class Batch:
    """One training batch: real data and what goes with it."""

    x: torch.Tensor
    # What G and D are conditioned on: labels, caption tokens or input images; None: nothing.
    c: torch.Tensor | None = None
    # Class labels where known (ACGAN's classifier).
    y: torch.Tensor | None = None
    # Real images that do not match `c` (GAN-INT-CLS's third kind of pair), when asked for.
    wrong: torch.Tensor | None = None


@dataclass
class Groups:
    """What a conditioning mode is given of the training config: its own options and the
    groups it builds from. Not the rest (loss, optimizer, schedule, augmentation): whether a
    mode combines with those is `gancli.config.rules`' business, checked before it is built."""

    conditioning: DictConfig
    model: DictConfig
    latent_dim: int
    # The dataset's options, for what a mode reads besides the training batches (image
    # translation's test pairs, a folder's captions file).
    data: DictConfig


@dataclass
class Request:
    """Conditions for `gancli sample`: what to feed G, labels to save, and the grid's row
    length (a person reads one row per label or prompt)."""

    c: torch.Tensor | None
    labels: torch.Tensor | None = None
    nrow: int | None = None
    # What the outputs should have been, where known (image translation's test targets).
    targets: torch.Tensor | None = None
    # Which conditions are caption phrasings never used in training (text evaluation).
    unseen: torch.Tensor | None = None


class Conditioning:
    """`conditioning=none`: unconditional generation, and the defaults the modes build on."""

    #: What evaluation gets with each sample (`gancli.evaluation.evaluate.Evaluator`): nothing
    #: (`none`), the class it was generated for (`labels`), or a target image (`pairs`).
    evaluates = "none"

    def __init__(self, groups: Groups, info: DataInfo, state: dict | None = None) -> None:
        self.groups, self.info, self.opts = groups, info, groups.conditioning

    #: Whether `gancli sample sample.interpolate=true` applies (not to image translation,
    #: whose G takes no z).
    interpolates = True
    #: The `gancli sample` options this mode reads, each with how a user writes it: the keys
    #: other modes declare are refused by `request`.
    sample_keys: dict[str, str] = {}

    def attach(self, data: TensorData) -> None:  # noqa: B027 (optional hook)
        """Called once with the training data, on the training device, before the first batch."""

    def build(self) -> tuple[nn.Module, nn.Module]:
        """G and D for this mode: G(z) and D(x) here, G(z, c) and D(x, c) for the others."""
        return build_models(self.groups.model, self.info, self.groups.latent_dim)

    def draw(self, data: TensorData, size: int, generator: torch.Generator) -> Batch:
        return Batch(data.draw(size, generator)[1])

    def discriminator_step(
        self, loss: GANLoss, critic: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> DiscriminatorStep:
        """D's loss on this batch; `critic` is already bound to `batch.c`."""
        return loss.discriminator_step(critic, batch.x, fake)

    def generator_loss(
        self, loss: GANLoss, critic: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> torch.Tensor:
        return loss.generator(critic, fake, real=batch.x)

    def preview(self, n: int) -> Request:
        """The conditions of the pictures written during training (`n` of them at most)."""
        return Request(None)

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """The conditions of `n` samples for evaluation (fewer where the test split is the
        limit); `generator` draws any randomness they need."""
        return Request(None)

    def request(self, opts: DictConfig, n: int) -> Request:
        """Conditions for `gancli sample`: an option another mode reads (`sample_keys`) is
        refused here, for every mode alike; this mode's own are read by `conditions`."""
        from gancli.conditioning import CONDITIONINGS  # the registry imports this module

        foreign = {key for mode in CONDITIONINGS.values() for key in mode.sample_keys}
        for key in sorted(foreign - set(self.sample_keys)):
            if opts.get(key) is not None:
                usage = (
                    f"use {' or '.join(self.sample_keys.values())}"
                    if self.sample_keys
                    else "it draws unconditional samples, so give none"
                )
                raise GancliError(
                    f"{key}= does not apply to a checkpoint trained with "
                    f"conditioning={self.opts.name}: {usage}"
                )
        return self.conditions(opts, n)

    def conditions(self, opts: DictConfig, n: int) -> Request:
        """Conditions for `gancli sample` from this mode's own `sample_keys` in `opts`."""
        return Request(None)

    def picture(
        self, x: torch.Tensor, req: Request, nrow: int | None
    ) -> tuple[torch.Tensor, int | None]:
        """The images of a `.png` grid of samples `x` drawn for `req`, and its row length:
        the samples themselves here; image translation puts each input beside its output."""
        return x, nrow

    def state(self) -> dict:
        """What a checkpoint must keep to rebuild this mode (a text vocabulary)."""
        return {}
