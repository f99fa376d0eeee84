"""Metrics for conditional generators: does the image show what was asked for?

- `match_accuracy`: share of generated images the evaluation classifier assigns to the class
  they were generated for (for text: the class the caption names). A generator that ignores its
  condition scores 1/classes; one that draws the right class, the classifier's own accuracy.
- `intra_fid`: FID within each class (generated images of class k against real images of class
  k), averaged over classes (Miyato & Koyama 2018). Unlike FID, it punishes a generator that
  draws good images of the wrong class.
- `cas`: classification accuracy score (Ravuri & Vinyals 2019): a classifier trained on
  generated labelled images only, tested on real test images. High only when the generated
  images of each class cover what real images of that class look like.
- `l1`, `psnr`, `ssim` for image translation (`gancli.evaluation.translation`).
"""

from __future__ import annotations

import torch

from gancli.data import TensorData
from gancli.evaluation.distribution import fid
from gancli.evaluation.features import Features
from gancli.evaluation.features.classifier import train_classifier

# Classes with fewer generated or real images than this are left out of intra-FID: a
# covariance estimated from a handful of images in 128 dimensions means nothing.
MIN_PER_CLASS = 25


def match_accuracy(
    logits: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor | None = None
) -> dict[str, float]:
    """Share of samples whose predicted class is the requested one; with an `unseen` mask
    (held-out caption phrasings), also for seen and unseen phrasings apart."""
    hit = (logits.argmax(1).cpu() == labels.cpu()).double()
    out = {"match_accuracy": float(hit.mean())}
    if unseen is not None and bool(unseen.any()) and not bool(unseen.all()):
        out["match_accuracy_seen"] = float(hit[~unseen].mean())
        out["match_accuracy_unseen"] = float(hit[unseen].mean())
    return out


def intra_fid(
    real: Features, real_labels: torch.Tensor, fake: Features, fake_labels: torch.Tensor
) -> dict[str, float | int]:
    """Mean per-class FID over the classes with at least `MIN_PER_CLASS` images on both sides,
    and how many classes that was."""
    scores = []
    for k in fake_labels.unique().tolist():
        r, f = real_labels.cpu() == k, fake_labels.cpu() == k
        if int(r.sum()) < MIN_PER_CLASS or int(f.sum()) < MIN_PER_CLASS:
            continue
        scores.append(fid(real.subset(r), fake.subset(f))["fid"])
    value = float(torch.tensor(scores).mean()) if scores else float("nan")
    return {"intra_fid": value, "intra_fid_classes": len(scores)}


def classification_accuracy_score(
    samples: torch.Tensor, labels: torch.Tensor, test: TensorData, device: torch.device
) -> dict[str, float]:
    """Train the evaluation classifier's recipe on (uint8 `samples`, `labels`), test it on the
    real `test` split."""
    generated = TensorData(test.info, samples.cpu().permute(0, 2, 3, 1), labels.cpu().long())
    with torch.random.fork_rng():
        # The recipe seeds torch's global generator; a run evaluating every eval_every steps
        # must not have its own random stream reset each time.
        result = train_classifier(generated, test, device)
    return {"cas": float(result["test_accuracy"])}
