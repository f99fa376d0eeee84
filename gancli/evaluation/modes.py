"""Mode counting for images through a classifier (the lecture's "ask a classifier" test).

The 2D mixtures' VEEGAN / PacGAN protocol is scored against their mode geometry, which the
dataset defines: `gancli.data.points.score_mixture`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: A generated image counts towards its class's mode only when the classifier is this sure.
CONFIDENT = 0.9


@dataclass(frozen=True)
class ClassProtocol:
    """How a dataset's modes are counted: `threshold`, the probability a sample's class needs
    for the class to count as captured; `uniform`, whether the histogram is compared with the
    uniform distribution (the published protocol) rather than the reference split's class
    frequencies."""

    threshold: float = CONFIDENT
    uniform: bool = False


#: The published protocols, by dataset. Stacked MNIST (VEEGAN, PacGAN): a class is captured by
#: any sample classified into it, and KL is to the uniform 1,000 classes; the test split's own
#: histogram (10,000 samples for 1,000 classes, ~10 ± 3 each) is too noisy to be the target.
PROTOCOLS = {"stacked_mnist": ClassProtocol(threshold=0.0, uniform=True)}


def score_classes(logits: torch.Tensor, class_prior: torch.Tensor,
                  protocol: ClassProtocol = ClassProtocol()) -> dict[str, float | int]:
    """Mode counting for images through a classifier (the lecture's "ask a classifier" test).

    A class is a captured mode when at least one sample is classified into it with probability
    at least `protocol.threshold`; `reverse_kl` is KL(histogram of predicted classes || the
    real classes' distribution: `class_prior`, the reference split's counts, or uniform): 0 for
    a generator whose classes are spread as the data's, large for one that drops classes.
    `confidence` is the mean top-class probability and `hq_fraction` the share of samples
    classified with p ≥ `CONFIDENT` (confidently recognisable): the quality half of the test.
    For stacked MNIST the classes are the 1,000 digit triples.
    """
    probs = logits.double().softmax(1)
    conf, pred = probs.max(1)
    k = probs.shape[1]
    captured = torch.bincount(pred[conf >= protocol.threshold], minlength=k) > 0
    hist = torch.bincount(pred, minlength=k).double() / len(pred)
    prior = torch.ones(k, dtype=torch.double) if protocol.uniform else class_prior.double()
    prior = prior / prior.sum()
    nz = hist > 0
    return {"modes_captured": int(captured.sum()), "modes_total": k,
            "reverse_kl": float((hist[nz] * (hist[nz] / prior[nz].clamp_min(1e-12)).log()).sum()),
            "hq_fraction": float((conf >= CONFIDENT).double().mean()),
            "confidence": float(conf.mean())}
