"""`conditioning=class`: generate an image of the class the user asks for.

Each training batch carries the real images' labels, and the fake batch is generated for the
same labels, so D compares real and generated images class by class and the fakes follow the
data's class frequencies. What D does with the label (`conditioning.d`) and how G takes it
(`conditioning.g`) are in `gancli.models.conditional`.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import register_conditioning
from gancli.conditioning.base import Batch, Conditioning, Groups, Request
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.losses.base import DiscriminatorStep, GANLoss
from gancli.models.conditional import (
    DISCRIMINATOR_SIDES,
    GENERATOR_SIDES,
    ConditionalDiscriminator,
)

# Draws of a replacement partner for a mismatched pair that happened to match; after this many
# the share still matching is at most (1/classes)^ROUNDS.
ROUNDS = 8
#: Seed of the conditions drawn for a grid, so that a grid of captions (text) is the same
#: every time.
GRID_SEED = 0


def class_grid(classes: int, n: int) -> tuple[torch.Tensor, int]:
    """The labels of a picture of `n` samples and its row length: one row per class
    (`n // classes` each), or one sample of each of the first `n` classes when there are more
    classes than samples (stacked MNIST's 1,000)."""
    if classes > n:
        return torch.arange(n), math.ceil(math.sqrt(n))
    per_row = max(1, n // classes)
    return torch.arange(classes).repeat_interleave(per_row), per_row


@register_conditioning("class")
class ClassConditioning(Conditioning):
    """Labels in, images of that class out; also the base of text conditioning, which encodes
    captions instead of looking labels up."""

    evaluates = "labels"
    sample_keys = {"label": "label=K", "labels": "labels=[...]"}

    def __init__(self, groups: Groups, info: DataInfo, state: dict | None = None) -> None:
        super().__init__(groups, info, state)
        self.require_labels()
        self.g_side = GENERATOR_SIDES.lookup(self.opts.g)
        self.d_side = DISCRIMINATOR_SIDES.lookup(self.opts.d)
        self.keys: torch.Tensor | None = None

    def require_labels(self) -> None:
        if self.info.num_classes < 2:
            raise GancliError(
                f"conditioning={self.opts.name} needs labelled data and data="
                f"{self.info.name} has a single class (data=folder: put each "
                "class in its own sub-folder)"
            )

    def encoder(self) -> nn.Module:
        """A fresh encoder of conditions into `embed_dim` vectors (one for each player)."""
        return nn.Embedding(self.info.num_classes, self.opts.embed_dim)

    def build(self) -> tuple[nn.Module, nn.Module]:
        args = (self.groups.model, self.info, self.groups.latent_dim)
        dim = self.opts.embed_dim
        return self.g_side(*args, self.encoder(), dim), self.d_side(*args, self.encoder(), dim)

    def attach(self, data: TensorData) -> None:
        self.keys = self.match_keys(data)

    def match_keys(self, data: TensorData) -> torch.Tensor:
        """Per training item, a value that is equal exactly when two items' conditions match."""
        return data.y

    def condition(
        self, labels: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """What G and D are given for data items `index` with labels `labels`."""
        return labels

    def draw(self, data: TensorData, size: int, generator: torch.Generator) -> Batch:
        idx, x = data.draw(size, generator)
        y = data.y[idx]
        wrong = None
        if self.opts.mismatch > 0:
            wrong = data.take(self.mismatched(idx, generator))
        return Batch(x, self.condition(y, idx, generator), y, wrong)

    def mismatched(self, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """For each item in `idx`, a random training item whose condition differs."""
        keys = self.keys
        if keys is None:
            raise RuntimeError("mismatched conditions need the training data: attach it first")
        other = torch.randint(len(keys), idx.shape, generator=generator, device=idx.device)
        for _ in range(ROUNDS):
            same = keys[other] == keys[idx]
            redraw = torch.randint(len(keys), idx.shape, generator=generator, device=idx.device)
            other = torch.where(same, redraw, other)
        return other

    def discriminator_step(
        self, loss: GANLoss, critic: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> DiscriminatorStep:
        """The GAN objective; with `mismatch` w > 0 its fake term is shared between generated
        images (1 - w) and real images with a wrong condition (w), GAN-INT-CLS's
        L_real + (1-w)·L_fake + w·L_wrong, written as two calls of the loss so that every loss
        and penalty applies unchanged. The logged statistics are those of the generated pair."""
        step = loss.discriminator_step(critic, batch.x, fake)
        w = self.opts.mismatch
        if batch.wrong is not None:
            step.loss = (1 - w) * step.loss + w * loss.discriminator_step(
                critic, batch.x, batch.wrong
            ).loss
        D = _conditional(critic)
        aux = D.aux_loss(batch.x, batch.y)
        if not isinstance(aux, float):  # ACGAN: classify real and generated images
            step.loss = step.loss + self.opts.aux_weight * (aux + D.aux_loss(fake, batch.y))
        return step

    def generator_loss(
        self, loss: GANLoss, critic: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> torch.Tensor:
        adversarial = loss.generator(critic, fake, real=batch.x)
        return adversarial + self.opts.aux_weight * _conditional(critic).aux_loss(fake, batch.y)

    # -- pictures -------------------------------------------------------------------------------

    def grid(self, y: torch.Tensor, nrow: int) -> Request:
        """Samples of labels `y`, `nrow` to a grid row."""
        return Request(self.condition(y, y, torch.Generator().manual_seed(GRID_SEED)), y, nrow)

    def rows(self, labels: torch.Tensor, per_row: int) -> Request:
        """`per_row` samples of each label, one grid row per label."""
        return self.grid(labels.repeat_interleave(per_row), per_row)

    def preview(self, n: int) -> Request:
        return self.grid(*class_grid(self.info.num_classes, n))

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """Every class equally often (intra-FID and match accuracy need each class)."""
        y = torch.arange(n) % self.info.num_classes
        return Request(self.condition(y, y, generator), y)

    def check_label(self, label: int) -> int:
        if not 0 <= label < self.info.num_classes:
            raise GancliError(
                f"label {label} is not a class of {self.info.name}: use 0 to "
                f"{self.info.num_classes - 1}"
            )
        return label

    def conditions(self, opts: DictConfig, n: int) -> Request:
        """`label=K`: n samples of class K; `labels=[a, b]`: n of each, a row per label;
        neither: the preview's one row per class."""
        if opts.get("label") is not None and opts.get("labels") is not None:
            raise GancliError("give label=K or labels=[...], not both")
        if opts.get("label") is not None:
            return self.rows(torch.tensor([self.check_label(opts.label)]), n)
        if opts.get("labels") is not None:
            if not opts.labels:
                raise GancliError("labels=[] is empty: list at least one class")
            return self.rows(torch.tensor([self.check_label(k) for k in opts.labels]), n)
        return self.preview(n)


def _conditional(critic: nn.Module) -> ConditionalDiscriminator:
    """The D behind the critic view (`CriticView.D`), which these modes build from
    `DISCRIMINATOR_SIDES`: what nn.Module's typing of the attribute cannot say."""
    return cast(ConditionalDiscriminator, critic.D)
