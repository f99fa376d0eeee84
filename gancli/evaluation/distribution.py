"""Distances between the real and generated distributions in a feature space: FID, KID, IS.

The arithmetic is torchmetrics' (float64 statistics, eigenvalue-based matrix square root for FID,
the unbiased polynomial-kernel MMD for KID, split-wise IS). Its metric classes run their own
network on images; here the features are already computed (and the real ones cached), so each
metric gets a pass-through module in place of the network and is fed feature rows directly.
Random subsets (KID) and splits (IS) are drawn under a fixed seed: the same sets score the same.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from gancli.evaluation.features import Features

SEED = 0
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10


class Precomputed(nn.Module):
    """Stands in for a metric's network: its input already is the feature (or logit) rows."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


# Every sample is already on this process: a torchmetrics metric would otherwise gather its
# state from every process of a torchrun group at compute(), and wait forever for the ranks
# that are not evaluating.
LOCAL: dict[str, Any] = {"sync_on_compute": False}


def fid(real: Features, fake: Features) -> dict[str, float]:
    """Fréchet distance between Gaussians fitted to the two feature sets."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=Precomputed(real.feats.shape[1]), **LOCAL)
    metric.update(real.feats, real=True)
    metric.update(fake.feats, real=False)
    return {"fid": float(metric.compute())}


def kid(real: Features, fake: Features) -> dict[str, float]:
    """Kernel inception distance (mean and std over random subsets); the subset size is clamped
    to the smaller set, which torchmetrics' default of 1,000 would otherwise crash on."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(KID_SUBSET_SIZE, len(real), len(fake))
    with warnings.catch_warnings():  # "will save all extracted features": that is the point
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=Precomputed(real.feats.shape[1]), subsets=KID_SUBSETS, subset_size=size, **LOCAL
        )
    metric.update(real.feats, real=True)
    metric.update(fake.feats, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        mean, std = metric.compute()
    return {"kid_mean": float(mean), "kid_std": float(std)}


def inception_score(fake: Features) -> dict[str, float]:
    """exp E KL(p(y|x) || p(y)) from the feature space's logits, over `IS_SPLITS` splits (fewer
    when there are fewer samples; one split would leave the std undefined)."""
    from torchmetrics.image.inception import InceptionScore

    if fake.logits is None:
        raise ValueError("this feature space has no logits")
    splits = max(2, min(IS_SPLITS, len(fake) // 2))
    with warnings.catch_warnings():  # "will save all extracted features": that is the point
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=Precomputed(fake.logits.shape[1]), splits=splits, **LOCAL)
    metric.update(fake.logits)
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        mean, std = metric.compute()
    return {"is_mean": float(mean), "is_std": float(std)}
