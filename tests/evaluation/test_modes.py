"""VEEGAN / PacGAN mode scoring: true-mixture values, collapse, misses and hand-computed KL."""

from __future__ import annotations

import math

import pytest
import torch

from gancli.data.points import (
    PROTOCOL_SAMPLES,
    ring8_modes,
    sample_mixture,
    score_mixture,
    score_modes,
)
from gancli.data.stacked import PROTOCOL
from gancli.errors import GancliError
from gancli.evaluation.modes import score_classes

# P(chi2_2 <= 9): the HQ fraction of points drawn from the true mixture.
TRUE_HQ = 1 - math.exp(-4.5)


@pytest.mark.parametrize("name, k", [("ring8", 8), ("grid25", 25)])
def test_true_mixture_captures_all_modes(name: str, k: int) -> None:
    points = sample_mixture(name, PROTOCOL_SAMPLES, seed=0).rows
    score = score_mixture(points, name)
    assert score.modes_captured == k and score.modes_total == k
    assert score.n_samples == PROTOCOL_SAMPLES
    assert abs(score.hq_fraction - TRUE_HQ) < 0.01
    assert score.reverse_kl < 0.02


def test_collapse_onto_one_mode() -> None:
    centres, std = ring8_modes()
    g = torch.Generator().manual_seed(0)
    points = centres[3] + 0.5 * std * torch.randn(100, 2, generator=g)
    score = score_mixture(points, "ring8")
    assert score.modes_captured == 1 and score.hq_fraction == 1.0
    assert score.reverse_kl == pytest.approx(math.log(8))


def test_points_far_from_all_modes() -> None:
    score = score_mixture(torch.full((50, 2), 10.0), "ring8")
    assert score.modes_captured == 0 and score.hq_fraction == 0.0
    assert score.reverse_kl == pytest.approx(math.log(8))  # documented worst case


def test_hand_built_histogram() -> None:
    centres, std = ring8_modes()
    points = centres[[0, 0, 2, 5]]  # counts 2:1:1 on three of eight modes
    score = score_modes(points, centres, std)
    # p = (1/2, 1/4, 1/4): KL = sum p log(8p) = 1/2 log 4 + 2 * 1/4 log 2 = 3/2 log 2.
    assert score.modes_captured == 3 and score.hq_fraction == 1.0
    assert score.reverse_kl == pytest.approx(1.5 * math.log(2))


def test_hq_threshold_is_three_std() -> None:
    centres, std = ring8_modes()
    inside = centres[:1] * (1 + 2.9 * std)  # radially outward, away from every other mode
    outside = centres[:1] * (1 + 3.1 * std)
    assert score_modes(inside, centres, std).hq_fraction == 1.0
    assert score_modes(outside, centres, std).hq_fraction == 0.0


def test_off_mode_points_halve_hq_fraction() -> None:
    points = sample_mixture("ring8", PROTOCOL_SAMPLES, seed=0).rows
    full = score_mixture(points, "ring8")
    # The origin is 1 away from every ring8 mode, far beyond 3 std = 0.03: never HQ.
    half = score_mixture(torch.cat([points, torch.zeros_like(points)]), "ring8")
    assert half.hq_fraction == pytest.approx(full.hq_fraction / 2)
    assert half.modes_captured == full.modes_captured
    assert half.reverse_kl == pytest.approx(full.reverse_kl)
    assert half.n_samples == 2 * PROTOCOL_SAMPLES


def test_to_dict_and_bad_input() -> None:
    score = score_mixture(torch.zeros(4, 2), "grid25")  # the origin is a grid25 mode
    assert score.to_dict() == {
        "modes_captured": 1,
        "modes_total": 25,
        "hq_fraction": 1.0,
        "reverse_kl": pytest.approx(math.log(25)),
        "n_samples": 4,
    }
    with pytest.raises(GancliError, match="ring8"):
        score_mixture(torch.zeros(4, 2), "mnist")
    with pytest.raises(GancliError, match="shape"):
        score_mixture(torch.zeros(4, 3), "ring8")


# -- images: classes through a classifier --------------------------------------------------------


def logits_for(classes: list[int], p: float, k: int) -> torch.Tensor:
    """Logits whose softmax gives probability `p` to each listed class, the rest spread evenly."""
    probs = torch.full((len(classes), k), (1 - p) / (k - 1), dtype=torch.double)
    probs[torch.arange(len(classes)), torch.tensor(classes)] = p
    return probs.log()


def test_image_modes_count_confident_classes_and_kl_to_the_data() -> None:
    # 4 classes, data 1:1:1:1; samples: class 0 twice (sure), class 1 once (sure), class 2 once
    # (unsure: not a captured mode, but in the histogram).
    logits = torch.cat([logits_for([0, 0, 1], 0.95, 4), logits_for([2], 0.5, 4)])
    s = score_classes(logits, torch.tensor([5, 5, 5, 5]))
    assert s["modes_captured"] == 2 and s["modes_total"] == 4
    hist = torch.tensor([0.5, 0.25, 0.25])
    assert s["reverse_kl"] == pytest.approx(float((hist * (hist / 0.25).log()).sum()))
    assert s["hq_fraction"] == 0.75 and s["confidence"] == pytest.approx((3 * 0.95 + 0.5) / 4)


def test_stacked_mnist_protocol_counts_every_class_seen_against_uniform() -> None:
    # The published protocol: any sample captures its class, KL to uniform, not to the
    # reference's (here skewed) counts.
    logits = logits_for([0, 1, 2, 3], 0.5, 4)
    skewed = torch.tensor([10, 1, 1, 1])
    assert score_classes(logits, skewed)["modes_captured"] == 0
    s = score_classes(logits, skewed, PROTOCOL)
    assert s["modes_captured"] == 4 and s["reverse_kl"] == pytest.approx(0.0)
    assert s["hq_fraction"] == 0.0
