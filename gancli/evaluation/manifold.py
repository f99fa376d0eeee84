"""Precision/recall (Kynkäänniemi et al. 2019, k=3) and density/coverage (Naeem et al. 2020, k=5).

Fidelity and diversity separately, which FID folds into one number: precision is the share of
generated samples inside the real data's k-NN manifold (quality), recall the share of real
samples inside the generated one (coverage of modes). Density and coverage are the
outlier-robust versions. Written here because torchmetrics has none of the four; they are a few
k-NN computations, done with `torch.cdist` in chunks so 10,000 × 60,000 distances never sit in
memory at once.
"""

from __future__ import annotations

import torch

from gancli.evaluation.features import Features

PR_K = 3
DC_K = 5
CHUNK = 1024


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of `x` to its k-th nearest other row."""
    out = []
    for chunk in x.split(CHUNK):
        d = torch.cdist(chunk.double(), x.double())
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # column 0 is the row itself
    return torch.cat(out)


def ball_counts(
    queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query: how many balls (centre_j, radius_j) contain it, and its distance to the
    nearest centre."""
    counts, nearest = [], []
    for chunk in queries.split(CHUNK):
        d = torch.cdist(chunk.double(), centres.double())
        counts.append((d <= radii.unsqueeze(0)).sum(1))
        nearest.append(d.min(1).values)
    return torch.cat(counts), torch.cat(nearest)


def precision_recall(real: Features, fake: Features, k: int = PR_K) -> dict[str, float]:
    """Share of fakes inside the real k-NN manifold, and of reals inside the fake one."""
    inside_real, _ = ball_counts(fake.feats, real.feats, knn_radii(real.feats, k))
    inside_fake, _ = ball_counts(real.feats, fake.feats, knn_radii(fake.feats, k))
    return {
        "precision": float((inside_real > 0).double().mean()),
        "recall": float((inside_fake > 0).double().mean()),
    }


def density_coverage(real: Features, fake: Features, k: int = DC_K) -> dict[str, float]:
    """Density: mean number of real k-NN balls around each fake, over k (1 when fakes sit like
    reals; above 1 when they crowd dense regions). Coverage: share of real balls holding at
    least one fake."""
    radii = knn_radii(real.feats, k)
    counts, _ = ball_counts(fake.feats, real.feats, radii)
    _, nearest_fake = ball_counts(real.feats, fake.feats, torch.zeros(len(fake)))
    return {
        "density": float(counts.double().mean() / k),
        "coverage": float((nearest_fake < radii).double().mean()),
    }
