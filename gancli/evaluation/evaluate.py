"""One evaluation: generated samples scored against a dataset with the metrics of `eval.metrics`.

`Evaluator` is built once per dataset and settings (feature space, cached real features, the
class distribution, memorization's train/test images) and then scores any number of sample sets:
`gancli eval` scores one, `gancli train` with `train.eval_every` scores one every so often.
Metric names map to functions in `METRICS`; a new metric is one function and one entry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, TensorData, load_dataset
from gancli.errors import GancliError
from gancli.evaluation import conditional, distribution, manifold
from gancli.evaluation.cache import cache_key, cached
from gancli.evaluation.classifier import content_hash
from gancli.evaluation.features import Features, FeatureSpace, build_space, pixels_to_unit
from gancli.evaluation.memorization import memorization
from gancli.evaluation.modes import score_classes, score_mixture
from gancli.evaluation.translation import translation_scores
from gancli.files import quantize

log = logging.getLogger("gancli.eval")


@dataclass
class Inputs:
    """What a metric function may use: generated samples (uint8 pixels or 2D points), their
    features, the reference set's features, and where to write pictures."""

    samples: torch.Tensor
    fake: Features | None
    real: Features | None
    evaluator: Evaluator
    out_dir: Path | None
    # Conditional generators: the class each sample was generated for (and which were asked
    # with a held-out caption phrasing), or the target each translated image should match.
    labels: torch.Tensor | None = None
    unseen: torch.Tensor | None = None
    targets: torch.Tensor | None = None


Metric = Callable[[Inputs], dict]


def _modes(x: Inputs) -> dict:
    ev = x.evaluator
    if ev.info.kind == "points":
        return score_mixture(x.samples, ev.info.name).to_dict()
    scores = score_classes(x.fake.logits, ev.class_prior)
    scores.pop("confidence")
    return scores


def _memorization(x: Inputs) -> dict:
    ev = x.evaluator
    train, test, key = ev.memorization_sets()
    png = x.out_dir / "memorization.png" if x.out_dir is not None else None
    return memorization(x.samples, train, test, key, png)


METRICS: dict[str, Metric] = {
    "fid": lambda x: distribution.fid(x.real, x.fake),
    "kid": lambda x: distribution.kid(x.real, x.fake),
    "is": lambda x: distribution.inception_score(x.fake),
    "pr": lambda x: manifold.precision_recall(x.real, x.fake),
    "dc": lambda x: manifold.density_coverage(x.real, x.fake),
    "modes": _modes,
    "confidence": lambda x: {"confidence": score_classes(x.fake.logits,
                                                         x.evaluator.class_prior)["confidence"]},
    "memorization": _memorization,
    "match": lambda x: conditional.match_accuracy(x.fake.logits, x.labels, x.unseen),
    "intra_fid": lambda x: conditional.intra_fid(x.real, x.evaluator.reference.y, x.fake,
                                                 x.labels),
    "cas": lambda x: conditional.classification_accuracy_score(
        x.samples, x.labels, x.evaluator.test_split(), x.evaluator.device),
    "translation": lambda x: translation_scores(pixels_to_unit(x.samples),
                                                pixels_to_unit(x.targets)),
}
#: Metrics that need the feature space; `modes` needs it for images only.
NEEDS_FEATURES = {"fid", "kid", "is", "pr", "dc", "confidence", "match", "intra_fid"}
#: Metrics that need logits over the dataset's own classes.
NEEDS_CLASSES = {"confidence", "match"}
#: Metrics of class- or text-conditional generators: they need each sample's class.
NEEDS_LABELS = {"match", "intra_fid", "cas"}
#: Metrics of image translation: they need each output's target.
NEEDS_TARGETS = {"translation"}
#: Values where higher is better, for `eval.primary` and `checkpoints/best.pt`; for every other
#: value (fid, kid_mean, reverse_kl, memorized_fraction, l1, ...) lower is better.
HIGHER_IS_BETTER = {"is_mean", "precision", "recall", "density", "coverage", "modes_captured",
                    "hq_fraction", "confidence", "memorization_ratio", "match_accuracy",
                    "match_accuracy_seen", "match_accuracy_unseen", "cas", "psnr", "ssim"}


def default_metrics(info: DataInfo, space: str, condition: str = "none") -> list[str]:
    """All that the data, feature space and kind of generator allow: 2D points only have
    modes; class- and text-conditional generators add match, intra_fid and cas; image
    translation has L1/PSNR/SSIM to the targets, plus FID where the feature space exists."""
    if info.kind == "points":
        return ["modes"]
    if condition == "pairs":
        return ["translation"] + (["fid"] if space != "classifier" or info.num_classes > 1
                                  else [])
    if space == "classifier":
        metrics = ["fid", "kid", "is", "pr", "dc", "modes", "confidence", "memorization"]
    else:
        metrics = ["fid", "kid", "is", "pr", "dc", "memorization"]
    if condition == "labels":
        metrics += ["intra_fid", "cas"] + (["match"] if space == "classifier" else [])
    return metrics


#: The value a metric is ranked by when it is the first one asked for and fid is not.
MAIN_VALUE = {"fid": "fid", "kid": "kid_mean", "is": "is_mean", "pr": "precision",
              "dc": "coverage", "modes": "reverse_kl", "confidence": "confidence",
              "memorization": "memorized_fraction", "match": "match_accuracy",
              "intra_fid": "intra_fid", "cas": "cas", "translation": "l1"}


def default_primary(info: DataInfo, metrics: list[str]) -> str:
    """reverse_kl for 2D points; fid for images when computed, else the first metric's value."""
    if info.kind == "points":
        return "reverse_kl"
    return "fid" if "fid" in metrics else MAIN_VALUE[metrics[0]]


def is_better(key: str, value: float, best: float | None) -> bool:
    """Whether `value` of metric `key` beats `best` (None: nothing yet)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if key in HIGHER_IS_BETTER else value < best


class Evaluator:
    """Scores sample sets of one dataset (`data_cfg`, described by `info`) with `opts`."""

    def __init__(self, opts: DictConfig, data_cfg: DictConfig, info: DataInfo,
                 device: torch.device, condition: str = "none") -> None:
        """`condition`: `none` (unconditional samples), `labels` (each sample generated for a
        class) or `pairs` (each sample a translation with a target)."""
        self.opts, self.data_cfg, self.info, self.device = opts, data_cfg, info, device
        space_name = getattr(opts.features, "value", opts.features)
        self.metrics = list(opts.metrics) or default_metrics(info, space_name, condition)
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise GancliError(f"unknown metric(s) {', '.join(unknown)} in eval.metrics; choose "
                              f"from: {', '.join(METRICS)}")
        for needs, kind, what in ((NEEDS_LABELS, "labels", "a class- or text-conditional "
                                   "checkpoint (conditioning=class|text on labelled data)"),
                                  (NEEDS_TARGETS, "pairs", "an image-to-image checkpoint "
                                   "(conditioning=image)")):
            asked = sorted(set(self.metrics) & needs)
            if asked and condition != kind:
                raise GancliError(f"eval.metrics {', '.join(asked)} need {what}; these samples "
                                  "have no such conditions")
        if info.kind == "points" and set(self.metrics) - {"modes"}:
            raise GancliError(f"{info.name} is 2D points: only eval.metrics=[modes] applies "
                              f"(asked for {', '.join(self.metrics)})")
        self.primary = opts.primary or default_primary(info, self.metrics)
        if opts.n < 2:
            raise GancliError(f"eval.n must be at least 2, got {opts.n}")
        self.space: FeatureSpace | None = None
        self.real: Features | None = None
        self._test: TensorData | None = None
        self._memorization_sets: tuple[torch.Tensor, torch.Tensor, dict] | None = None
        if info.kind == "points":
            return
        self.split = getattr(opts.reference, "value", opts.reference)
        self.reference = load_dataset(data_cfg, self.split)
        self.check_shape(tuple(self.reference.info.shape))
        # Class frequencies, where the data has classes (paired data's `y` holds input images).
        self.class_prior = (torch.bincount(self.reference.y, minlength=info.num_classes).double()
                            if info.num_classes > 0 and not self.reference.y.is_floating_point()
                            else None)
        self.data_key = {"data": info.name, "shape": list(info.shape),
                         "reference": self.split, "content": content_hash(self.reference)}
        if set(self.metrics) & (NEEDS_FEATURES | {"modes"}):
            self.space = build_space(opts, data_cfg, info, device)
            class_metrics = sorted(set(self.metrics) & (NEEDS_CLASSES | {"modes"}))
            if class_metrics and not self.space.classes:
                raise GancliError(f"eval.metrics {', '.join(class_metrics)} need the dataset's "
                                  "classes, which this feature space does not predict: use "
                                  "eval.features=classifier")
            self.real = self.reference_features(self.reference)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Samples and the dataset must agree on channels and resolution."""
        if self.info.kind == "image" and tuple(shape) != tuple(self.info.shape):
            raise GancliError(
                f"samples are {'×'.join(map(str, shape))} (C×H×W) but {self.info.name} here is "
                f"{'×'.join(map(str, self.info.shape))}: set data.resolution (and data=) to "
                "what the samples were generated at")

    def reference_features(self, ref: TensorData) -> Features:
        """Features of the reference split, from the cache when this space has seen it."""
        key = cache_key(f"features-{self.info.name}-{self.split}",
                        {"space": self.space.settings, **self.data_key})
        return Features.from_dict(cached(key, lambda: self.space.extract(
            quantize(ref.x)).to_dict()))

    def test_split(self) -> TensorData:
        """The real test split (CAS's test set), loaded once."""
        if self._test is None:
            self._test = (self.reference if self.split == "test"
                          else load_dataset(self.data_cfg, "test"))
        return self._test

    def memorization_sets(self) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """uint8 training images, held-out test images, and a key naming both for the cache
        (loaded on first use)."""
        if self._memorization_sets is None:
            train = load_dataset(self.data_cfg, "train")
            test = self.test_split()
            key = {"data": self.info.name, "shape": list(self.info.shape),
                   "train": content_hash(train), "test": content_hash(test)}
            self._memorization_sets = (quantize(train.x), quantize(test.x), key)
        return self._memorization_sets

    def __call__(self, samples: torch.Tensor, out_dir: Path | None = None,
                 labels: torch.Tensor | None = None, unseen: torch.Tensor | None = None,
                 targets: torch.Tensor | None = None) -> dict:
        """Score `samples` (uint8 N×C×H×W images, or N×2 float points); `out_dir` receives
        pictures some metrics draw (memorization pairs). Conditional samples come with the
        class each was generated for (`labels`, and `unseen`: asked with a held-out phrasing)
        or the uint8 image each should match (`targets`). Returns the metrics' values plus what
        they were computed from (`n_samples`, `features`, `reference`, `dataset`)."""
        if self.info.kind == "image":
            if samples.dtype != torch.uint8:
                raise TypeError("image samples must be uint8 pixels (gancli.files.quantize)")
            self.check_shape(tuple(samples.shape[1:]))
        fake = self.space.extract(samples) if self.space is not None else None
        inputs = Inputs(samples, fake, self.real, self, out_dir, labels, unseen, targets)
        result: dict = {}
        for name in self.metrics:
            result.update(METRICS[name](inputs))
        if self.primary not in result:
            raise GancliError(f"eval.primary={self.primary} is not among the computed values "
                              f"({', '.join(result)}); pick one of them")
        result.update(self.metadata(len(samples)))
        return result

    def metadata(self, n: int) -> dict:
        """Labels every set of numbers carries: sample count, feature space, reference."""
        meta = {"n_samples": n, "dataset": self.info.name}
        if self.info.kind == "image":
            meta["features"] = self.space.name if self.space is not None else "pixels"
            meta["reference"] = self.split
            meta["n_reference"] = len(self.reference)
            meta.update(self.space.extra if self.space is not None else {})
        return meta
