"""Mode coverage of 2D samples: the VEEGAN / PacGAN scoring protocol.

VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018) measure mode collapse on the
ring8 and grid25 Gaussian mixtures by scoring `PROTOCOL_SAMPLES` (2,500) generated points:

- a point is *high quality* (HQ) if its Euclidean distance to the nearest mode centre is at
  most 3 standard deviations;
- a mode is *captured* if at least one HQ point has it as its nearest mode;
- the *reverse KL* is KL(p || uniform), where p is the histogram of HQ points over the modes,
  normalised. It is 0 when HQ points spread evenly and log(K) when they all sit on one mode.

Points drawn from the true mixture are HQ with probability P(chi2_2 <= 9) = 1 - exp(-4.5),
about 98.9%, which is the ceiling a perfect generator reaches. Scoring the protocol's sample
count matters for comparing with the published tables: fewer points capture fewer modes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from gancli.data.points import MIXTURES
from gancli.errors import GancliError

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
        raise GancliError(f"mode scoring needs points of shape (N, {centres.shape[1]}), "
                          f"got {tuple(points.shape)}")
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
    """`score_modes` against the named mixture from `gancli.data.points.MIXTURES`."""
    if name not in MIXTURES:
        raise GancliError(f"no mode geometry for dataset '{name}': mode scoring applies to "
                          f"{', '.join(sorted(MIXTURES))}")
    centres, std = MIXTURES[name]()
    return score_modes(points, centres, std)


#: A generated image counts towards its class's mode only when the classifier is this sure.
CONFIDENT = 0.9


def score_classes(logits: torch.Tensor, class_prior: torch.Tensor) -> dict[str, float | int]:
    """Mode counting for images through a classifier (the lecture's "ask a classifier" test).

    A class is a captured mode when at least one sample is classified into it with probability
    at least `CONFIDENT`; `reverse_kl` is KL(histogram of predicted classes || `class_prior`,
    the real data's class distribution): 0 for a generator whose classes are spread as the
    data's, large for one that drops classes. `confidence` is the mean top-class probability,
    the quality half of the test. For stacked MNIST the classes are the 1,000 digit triples.
    """
    probs = logits.double().softmax(1)
    conf, pred = probs.max(1)
    k = probs.shape[1]
    captured = torch.bincount(pred[conf >= CONFIDENT], minlength=k) > 0
    hist = torch.bincount(pred, minlength=k).double() / len(pred)
    prior = class_prior.double() / class_prior.sum()
    nz = hist > 0
    return {"modes_captured": int(captured.sum()), "modes_total": k,
            "reverse_kl": float((hist[nz] * (hist[nz] / prior[nz].clamp_min(1e-12)).log()).sum()),
            "confidence": float(conf.mean())}
