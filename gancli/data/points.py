"""2D Gaussian mixtures, the standard toy for seeing mode collapse (PacGAN, VEEGAN), and the
protocol that scores samples against their modes.

Geometry as in `shared/guide/evaluation.md`: ring8 has 8 modes on a circle of radius 1 with
std 0.01; grid25 has 25 modes at {-4,-2,0,2,4}^2 with std 0.05.

VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018) measure mode collapse on these
mixtures by scoring `PROTOCOL_SAMPLES` (2,500) generated points:

- a point is *high quality* (HQ) if its Euclidean distance to the nearest mode centre is at
  most 3 standard deviations;
- a mode is *captured* if at least one HQ point has it as its nearest mode;
- the *reverse KL* is KL(p || uniform), where p is the histogram of HQ points over the modes,
  normalised. It is 0 when HQ points spread evenly and log(K) when they all sit on one mode.

Points drawn from the true mixture are HQ with probability P(chi2_2 <= 9) = 1 - exp(-4.5),
about 98.9%, which is the ceiling a perfect generator reaches. Scoring the protocol's sample
count matters for comparing with the published tables: fewer points capture fewer modes. The
protocol lives with the mixtures because it is their geometry: training pictures
(`gancli.data.kinds`) and `eval.metrics=[modes]` both score with it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.errors import GancliError


def ring8_modes() -> tuple[torch.Tensor, float]:
    """Mode centres and the shared standard deviation of ring8."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], dim=1), 0.01


def grid25_modes() -> tuple[torch.Tensor, float]:
    """Mode centres and the shared standard deviation of grid25."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1), 0.05


MIXTURES = {"ring8": ring8_modes, "grid25": grid25_modes}


def sample_mixture(name: str, n: int, seed: int) -> TensorData:
    """`n` points from the equal-weight mixture `name`, labelled with their mode."""
    centres, std = MIXTURES[name]()
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(centres), (n,), generator=g)
    x = centres[y] + std * torch.randn(n, 2, generator=g)
    return TensorData(DataInfo(name, "points", (2,), len(centres)), x, y)


def _loader(name: str) -> Callable[[DictConfig, Split], TensorData]:
    def load(cfg: DictConfig, split: Split) -> TensorData:
        # Distinct fixed seeds per split: the test split is a fresh draw, never the training one.
        return sample_mixture(name, cfg.num_points, seed=0 if split == "train" else 1)

    return load


for _name in MIXTURES:
    register_dataset(_name)(_loader(_name))


# -- the VEEGAN / PacGAN scoring protocol ------------------------------------------------------

PROTOCOL_SAMPLES = 2500
"""Number of generated points the VEEGAN / PacGAN tables are scored on."""

HQ_RADIUS_STDS = 3.0
"""A point within this many standard deviations of its nearest mode counts as high quality."""


@dataclass(frozen=True)
class ModeScore:
    """The protocol's numbers for one set of points; frozen, since it is a measurement."""

    modes_captured: int
    modes_total: int
    hq_fraction: float
    reverse_kl: float
    n_samples: int

    def to_dict(self) -> dict[str, int | float]:
        """Plain values, for logging to JSON/metrics files."""
        return dataclasses.asdict(self)


def score_modes(points: torch.Tensor, centres: torch.Tensor, std: float) -> ModeScore:
    """Score `points` (N×2) against a mixture with mode `centres` (K×2) and shared `std`.

    Follows the VEEGAN / PacGAN protocol (see the module docstring); pass `PROTOCOL_SAMPLES`
    points to compare with published numbers. If no point is HQ, the histogram is undefined;
    `reverse_kl` is then log(K), the value of total collapse onto one mode, so that producing
    nothing of quality never scores better than collapsing.
    """
    if points.ndim != 2 or points.shape[1] != centres.shape[1]:
        raise GancliError(
            f"mode scoring needs points of shape (N, {centres.shape[1]}), got {tuple(points.shape)}"
        )
    if len(points) == 0:
        raise GancliError("mode scoring needs at least one point, got none")
    # float64: the HQ threshold is a few hundredths for ring8; keep rounding out of the picture.
    dist = torch.cdist(points.detach().to("cpu", torch.float64), centres.to(torch.float64))
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= HQ_RADIUS_STDS * std
    k = len(centres)
    counts = torch.bincount(nearest[hq], minlength=k).to(torch.float64)
    n_hq = int(counts.sum())
    if n_hq == 0:
        reverse_kl = math.log(k)
    else:
        p = counts / n_hq
        nz = p > 0  # 0 * log 0 = 0
        reverse_kl = float((p[nz] * (p[nz] * k).log()).sum())
    return ModeScore(
        modes_captured=int((counts > 0).sum()),
        modes_total=k,
        hq_fraction=n_hq / len(points),
        reverse_kl=reverse_kl,
        n_samples=len(points),
    )


def score_mixture(points: torch.Tensor, name: str) -> ModeScore:
    """`score_modes` against the named mixture of `MIXTURES`."""
    if name not in MIXTURES:
        raise GancliError(
            f"no mode geometry for dataset '{name}': mode scoring applies to "
            f"{', '.join(sorted(MIXTURES))}"
        )
    centres, std = MIXTURES[name]()
    return score_modes(points, centres, std)
