"""Conditional G and D built around the unconditional architectures, so that every model in the
registry (`mlp`, `dcgan`, `resnet`) can be conditioned without a conditional copy of itself.

A condition `c` (class labels, caption tokens) is first mapped by an *encoder* (an embedding
table for labels, a text encoder for captions) to a vector of `conditioning.embed_dim` numbers;
each player has its own encoder, trained by its own objective. Then:

Generator side (`conditioning.g`):
- `concat`: the vector is appended to z (Mirza & Osindero 2014).
- `cbn`: conditional batch norm: every batch-norm layer of G loses its own scale and shift and
  gets them predicted from the vector instead (de Vries et al. 2017; Miyato & Koyama 2018).

Discriminator side (`conditioning.d`):
- `concat`: the vector is appended to D's input, as constant feature maps for images.
- `projection`: D(x, c) = ψ(φ(x)) + ⟨W·e(c), φ(x)⟩ with φ D's penultimate features (Miyato &
  Koyama 2018): the inner product scores how well x matches c.
- `acgan`: D judges realism only and a second head classifies x; both players also minimise the
  classification loss of real (D) and generated (both) images (Odena et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.models import build_models
from gancli.registry import Registry


class ConcatGenerator(nn.Module):
    """G([z, e(c)]): the base generator was built for latent_dim + embed_dim inputs."""

    def __init__(self, base: nn.Module, encoder: nn.Module) -> None:
        super().__init__()
        self.base, self.encoder = base, encoder

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.base(torch.cat([z, self.encoder(c)], dim=1))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose per-channel scale and shift are linear functions of the condition vector.

    Starts as plain batch norm (scale 1, shift 0 for every condition). The vector is handed over
    by `CBNGenerator` through `cond` just before the base generator runs: the base models take
    only z, and this keeps them unaware of conditioning."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, cond_dim: int) -> None:
        super().__init__()
        self.norm = type(bn)(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=False)
        self.gamma = nn.Linear(cond_dim, bn.num_features)
        self.beta = nn.Linear(cond_dim, bn.num_features)
        for layer, bias in ((self.gamma, 1.0), (self.beta, 0.0)):
            nn.init.zeros_(layer.weight)
            nn.init.constant_(layer.bias, bias)
        self.cond: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cond is None:
            raise RuntimeError("ConditionalBatchNorm called without a condition")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return self.norm(x) * self.gamma(self.cond).view(shape) + self.beta(self.cond).view(shape)


class CBNGenerator(nn.Module):
    """The base generator with each batch-norm layer replaced by `ConditionalBatchNorm`."""

    def __init__(self, base: nn.Module, encoder: nn.Module, cond_dim: int) -> None:
        super().__init__()
        found = _replace_batch_norm(base, cond_dim)
        if not found:
            raise GancliError(
                "conditioning.g=cbn conditions the generator's batch-norm layers "
                "and this model's generator has none: use conditioning.g=concat "
                "(or model=dcgan / model=resnet)"
            )
        self.base, self.encoder = base, encoder
        # A plain list (not registered twice as sub-modules); deep copies (the EMA generator)
        # copy it along with the layers it points to.
        self._cbn = [m for m in base.modules() if isinstance(m, ConditionalBatchNorm)]

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        e = self.encoder(c)
        layers = self._cbn
        for m in layers:
            m.cond = e
        try:
            return self.base(z)
        finally:
            for m in layers:
                m.cond = None


def _replace_batch_norm(module: nn.Module, cond_dim: int) -> int:
    """Swap every BatchNorm1d/2d below `module` for a conditional one; returns how many."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(module, name, ConditionalBatchNorm(child, cond_dim))
            count += 1
        else:
            count += _replace_batch_norm(child, cond_dim)
    return count


class ConditionalDiscriminator(nn.Module):
    """D(x, c) around a base D with `features`/`score`; `aux_loss` is 0 except for ACGAN."""

    def __init__(self, base: nn.Module, encoder: nn.Module | None) -> None:
        super().__init__()
        self.base, self.encoder = base, encoder

    def aux_loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | float:
        """An extra loss on (images, their labels) that both players minimise; none here."""
        return 0.0


class ConcatDiscriminator(ConditionalDiscriminator):
    """D([x, e(c)]): for images e(c) is repeated over every pixel as extra channels."""

    encoder: nn.Module

    def __init__(self, base: nn.Module, encoder: nn.Module) -> None:
        super().__init__(base, encoder)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        e = self.encoder(c)
        if x.dim() > 2:
            e = e.view(*e.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
        return self.base(torch.cat([x, e], dim=1))


class ProjectionDiscriminator(ConditionalDiscriminator):
    """ψ(φ(x)) + ⟨W·e(c), φ(x)⟩ (Miyato & Koyama 2018)."""

    encoder: nn.Module

    def __init__(
        self, base: nn.Module, encoder: nn.Module, cond_dim: int, feature_dim: int
    ) -> None:
        super().__init__(base, encoder)
        self.project = nn.Linear(cond_dim, feature_dim, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # `features`/`score`: every base D's methods, which nn.Module's typing cannot see.
        h = self.base.features(x)  # type: ignore[operator]
        score = self.base.score(h)  # type: ignore[operator]
        return score + (self.project(self.encoder(c)) * h).sum(dim=1)


class ACGANDiscriminator(ConditionalDiscriminator):
    """Realism from the base D, plus a classifier head on its features (Odena et al. 2017)."""

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int) -> None:
        super().__init__(base, None)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.base(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.base.features(x))  # type: ignore[operator]

    def aux_loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise GancliError(
                "conditioning.d=acgan classifies images by class and these "
                "captions have no class labels: use conditioning.d=projection "
                "or concat"
            )
        return F.cross_entropy(self.logits(x), labels)


def feature_dim(D: nn.Module, info: DataInfo) -> int:
    """Length of D's feature vector, found by running it once on a dummy batch (every base D
    has its own layout; asking it is simpler and safer than a formula per architecture)."""
    was_training = D.training
    D.eval()
    try:
        with torch.no_grad():
            return int(D.features(torch.zeros(2, *info.shape)).shape[1])  # type: ignore[operator]
    finally:
        D.train(was_training)


GSide = Callable[[DictConfig, DataInfo, int, nn.Module, int], nn.Module]
DSide = Callable[[DictConfig, DataInfo, int, nn.Module, int], nn.Module]
#: `conditioning.g`: (model cfg, data info, latent dim, encoder, embed dim) → G(z, c).
GENERATOR_SIDES: Registry[GSide] = Registry("conditioning.g")
#: `conditioning.d`: (model cfg, data info, latent dim, encoder, embed dim) → D(x, c).
DISCRIMINATOR_SIDES: Registry[DSide] = Registry("conditioning.d")


@GENERATOR_SIDES.register("concat")
def concat_generator(
    cfg: DictConfig, info: DataInfo, latent_dim: int, encoder: nn.Module, dim: int
) -> nn.Module:
    G, _ = build_models(cfg, info, latent_dim + dim)
    return ConcatGenerator(G, encoder)


@GENERATOR_SIDES.register("cbn")
def cbn_generator(
    cfg: DictConfig, info: DataInfo, latent_dim: int, encoder: nn.Module, dim: int
) -> nn.Module:
    G, _ = build_models(cfg, info, latent_dim)
    return CBNGenerator(G, encoder, dim)


@DISCRIMINATOR_SIDES.register("concat")
def concat_discriminator(
    cfg: DictConfig, info: DataInfo, latent_dim: int, encoder: nn.Module, dim: int
) -> nn.Module:
    wider = replace(info, shape=(info.shape[0] + dim, *info.shape[1:]))
    _, D = build_models(cfg, wider, latent_dim)
    return ConcatDiscriminator(D, encoder)


@DISCRIMINATOR_SIDES.register("projection")
def projection_discriminator(
    cfg: DictConfig, info: DataInfo, latent_dim: int, encoder: nn.Module, dim: int
) -> nn.Module:
    _, D = build_models(cfg, info, latent_dim)
    return ProjectionDiscriminator(D, encoder, dim, feature_dim(D, info))


@DISCRIMINATOR_SIDES.register("acgan")
def acgan_discriminator(
    cfg: DictConfig, info: DataInfo, latent_dim: int, encoder: nn.Module, dim: int
) -> nn.Module:
    _, D = build_models(cfg, info, latent_dim)
    return ACGANDiscriminator(D, info.num_classes, feature_dim(D, info))
