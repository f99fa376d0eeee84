"""Mode counting for images through a classifier (the lecture's "ask a classifier" test).

The 2D mixtures' VEEGAN / PacGAN protocol is scored against their mode geometry, which the
dataset defines: `gancli.data.points.score_mixture`.
"""

from __future__ import annotations

import torch

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
