"""Mode counting for images through a classifier (ask a classifier which class each sample is).

How a dataset's modes are counted (`ClassProtocol`: Stacked MNIST's published one) comes with
its source (`gancli.data.store.sources.class_protocol`); the 2D mixtures' VEEGAN / PacGAN
protocol is scored against their mode geometry by their kind
(`gancli.data.kinds.PointsKind.score_modes`).
"""

from __future__ import annotations

import torch

from gancli.data.store.sources import CONFIDENT, USUAL, ClassProtocol


def score_classes(
    logits: torch.Tensor, class_prior: torch.Tensor | None, protocol: ClassProtocol = USUAL
) -> dict[str, float | int]:
    """Mode counting for images through a classifier (ask a classifier which class each sample is).

    A class is a captured mode when at least one sample is classified into it with probability
    at least `protocol.threshold`; `reverse_kl` is KL(histogram of predicted classes || the
    real classes' distribution: `class_prior`, the reference split's counts, or uniform): 0 for
    a generator whose classes are spread as the data's, large for one that drops classes.
    `confidence` is the mean top-class probability and `hq_fraction` the share of samples
    classified with p ≥ `CONFIDENT` (confidently recognisable): the quality half of the test.
    """
    probs = logits.double().softmax(1)
    conf, pred = probs.max(1)
    k = probs.shape[1]
    captured = torch.bincount(pred[conf >= protocol.threshold], minlength=k) > 0
    hist = torch.bincount(pred, minlength=k).double() / len(pred)
    if protocol.uniform:
        prior = torch.ones(k, dtype=torch.double)
    elif class_prior is None:  # metrics needing classes run only on data with classes
        raise RuntimeError(
            "score_classes: the protocol compares with the reference split's "
            "class frequencies, and none were given"
        )
    else:
        prior = class_prior.double()
    prior = prior / prior.sum()
    nz = hist > 0
    return {
        "modes_captured": int(captured.sum()),
        "modes_total": k,
        "reverse_kl": float((hist[nz] * (hist[nz] / prior[nz].clamp_min(1e-12)).log()).sum()),
        "hq_fraction": float((conf >= CONFIDENT).double().mean()),
        "confidence": float(conf.mean()),
    }
