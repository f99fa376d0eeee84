"""One evaluation: generated samples scored against a dataset with the metrics of `eval.metrics`.

`Evaluator` is built once per dataset and settings (feature space, cached real features, the
class distribution, memorization's train/test images) and then scores any number of sample sets:
`gancli eval` scores one, `gancli train` with `train.eval_every` scores one every so often.
What each metric writes and needs, its defaults and its direction come from its entry in
`gancli.evaluation.metrics.METRICS`; nothing here names a metric but `fid`, the preferred
primary.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, TensorData, load_dataset
from gancli.data.kinds import data_kind
from gancli.errors import GancliError
from gancli.evaluation.cache import cache_key, cached, content_hash
from gancli.evaluation.features import Features, FeatureSpace, build_space
from gancli.evaluation.metrics import METRICS, SPACE_NEEDS, Inputs, higher_is_better

log = logging.getLogger("gancli.eval")

#: What the samples must come with for metrics that need `labels` or `pairs`.
CONDITIONS = {
    "labels": "a class- or text-conditional checkpoint (conditioning=class|text on labelled data)",
    "pairs": "an image-to-image checkpoint (conditioning=image)",
}


def default_metrics(info: DataInfo, space: str, condition: str = "none") -> list[str]:
    """The metrics registered as defaults for this kind of sample set (`SAMPLE_SETS`:
    unconditional `images`, or the `condition`), less those this feature space cannot feed:
    only the classifier predicts the dataset's own classes, and paired data has no labels to
    train it on (translation alone, then; FID with eval.features=inception). Samples that are
    not pixels (`DataKind.pixels`) get every metric that scores them alone (`Metric.raw`)."""
    if not data_kind(info).pixels:
        return [name for name, metric in METRICS.items() if metric.raw]
    sample_set = "images" if condition == "none" else condition
    names = [name for name, metric in METRICS.items() if sample_set in metric.defaults]
    if space != "classifier":
        names = [name for name in names if "classes" not in METRICS[name].needs]
    elif sample_set == "pairs" and info.num_classes < 2:
        names = [name for name in names if not METRICS[name].needs & SPACE_NEEDS]
    return names


def default_primary(metrics: list[str]) -> str:
    """fid when computed, else the value the first metric is ranked by (2D points: modes'
    reverse_kl)."""
    return "fid" if "fid" in metrics else METRICS[metrics[0]].ranked_by


def is_better(key: str, value: float, best: float | None) -> bool:
    """Whether `value` of metric `key` beats `best` (None: nothing yet), in the direction the
    metric that writes `key` registered."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if higher_is_better(key) else value < best


def asked_for(metrics: list[str], need: str) -> list[str]:
    """Those of `metrics` that need `need`, sorted for messages."""
    return sorted(name for name in metrics if need in METRICS[name].needs)


class Evaluator:
    """Scores sample sets of one dataset (`data_cfg`, described by `info`) with `opts`."""

    def __init__(
        self,
        opts: DictConfig,
        data_cfg: DictConfig,
        info: DataInfo,
        device: torch.device,
        condition: str = "none",
    ) -> None:
        """`condition`: `none` (unconditional samples), `labels` (each sample generated for a
        class) or `pairs` (each sample a translation with a target)."""
        self.opts, self.data_cfg, self.info, self.device = opts, data_cfg, info, device
        self.kind = data_kind(info)
        self.metrics = list(opts.metrics) or default_metrics(info, opts.features, condition)
        chosen = {name: METRICS.lookup(name) for name in self.metrics}
        for need, what in CONDITIONS.items():
            asked = asked_for(self.metrics, need)
            if asked and condition != need:
                raise GancliError(
                    f"eval.metrics {', '.join(asked)} need {what}; these samples "
                    "have no such conditions"
                )
        if not self.kind.pixels and not all(metric.raw for metric in chosen.values()):
            applies = ",".join(name for name, metric in METRICS.items() if metric.raw)
            raise GancliError(
                f"{info.name} is {self.kind.noun}: only eval.metrics=[{applies}] "
                f"applies (asked for {', '.join(self.metrics)})"
            )
        self.primary = opts.primary or default_primary(self.metrics)
        written = [key for name in self.metrics for key in METRICS[name].keys]
        if self.primary not in written:  # before any data is read or a classifier trained
            raise GancliError(
                f"eval.primary={self.primary} is not among the values eval.metrics "
                f"computes ({', '.join(written)}); pick one of them"
            )
        self.space: FeatureSpace | None = None
        self.real: Features | None = None
        self._test: TensorData | None = None
        self._memorization_sets: tuple[torch.Tensor, torch.Tensor, dict] | None = None
        if not self.kind.pixels:  # scored alone: no real split, no feature space
            return
        self.split = getattr(opts.reference, "value", opts.reference)
        self.reference = load_dataset(data_cfg, self.split)
        self.kind.check_shape(tuple(self.reference.info.shape))
        # Class frequencies, where the data has classes (paired data's `y` holds input images).
        self.class_prior = (
            torch.bincount(self.reference.y, minlength=info.num_classes).double()
            if info.num_classes > 0 and not self.reference.y.is_floating_point()
            else None
        )
        self.data_key = {
            "data": info.name,
            "shape": list(info.shape),
            "reference": self.split,
            "content": content_hash(self.reference),
        }
        if any(metric.needs & SPACE_NEEDS for metric in chosen.values()):
            self.space = space = build_space(opts, data_cfg, info, device)
            self._drop_logit_metrics(space, bool(opts.metrics))
            class_metrics = asked_for(self.metrics, "classes")
            if class_metrics and not space.classes:
                raise GancliError(
                    f"eval.metrics {', '.join(class_metrics)} need the dataset's "
                    "classes, which this feature space does not predict: use "
                    "eval.features=classifier"
                )
            self.real = self.reference_features(self.reference)

    def _drop_logit_metrics(self, space: FeatureSpace, asked: bool) -> None:
        """A feature `space` without logits cannot feed the metrics that need them (IS): they
        are refused when `asked` for, else left out of the defaults."""
        need = asked_for(self.metrics, "logits")
        if not need or space.logits:
            return
        if asked:
            raise GancliError(
                f"eval.metrics {', '.join(need)} need logits, which this "
                f"eval.features={space.name} does not give "
                f"({space.no_logits}): leave them out"
            )
        self.metrics = [name for name in self.metrics if name not in need]

    def reference_features(self, ref: TensorData) -> Features:
        """Features of the reference split, from the cache when this space has seen it."""
        space = self.space
        if space is None:
            raise RuntimeError("reference features asked for before the feature space is built")
        key = cache_key(
            f"features-{self.info.name}-{self.split}", {"space": space.settings, **self.data_key}
        )
        return Features.from_dict(cached(key, lambda: space.extract(ref.pixels()).to_dict()))

    def test_split(self) -> TensorData:
        """The real test split (CAS's test set), loaded once."""
        if self._test is None:
            self._test = (
                self.reference if self.split == "test" else load_dataset(self.data_cfg, "test")
            )
        return self._test

    def memorization_sets(self) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """uint8 training images, held-out test images, and a key naming both for the cache
        (loaded on first use)."""
        if self._memorization_sets is None:
            train = load_dataset(self.data_cfg, "train")
            test = self.test_split()
            key = {
                "data": self.info.name,
                "shape": list(self.info.shape),
                "train": content_hash(train),
                "test": content_hash(test),
            }
            self._memorization_sets = (train.pixels(), test.pixels(), key)
        return self._memorization_sets

    def __call__(
        self,
        samples: torch.Tensor,
        out_dir: Path | None = None,
        labels: torch.Tensor | None = None,
        unseen: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
    ) -> dict:
        """Score `samples` (as `DataKind.scored` makes them: uint8 N×C×H×W images, N×2 float
        points); `out_dir` receives pictures some metrics draw (memorization pairs).
        Conditional samples come with the class each was generated for (`labels`, and `unseen`:
        asked with a held-out phrasing) or the uint8 image each should match (`targets`).
        Returns the metrics' values plus what they were computed from (`n_samples`,
        `features`, `reference`, `dataset`)."""
        self.kind.check_scored(samples)
        fake = self.space.extract(samples) if self.space is not None else None
        inputs = Inputs(samples, fake, self.real, self, out_dir, labels, unseen, targets)
        result: dict = {}
        for name in self.metrics:
            result.update(METRICS[name](inputs))
        if self.primary not in result:
            raise GancliError(
                f"eval.primary={self.primary} is not among the computed values "
                f"({', '.join(result)}); pick one of them"
            )
        result.update(self.metadata(len(samples)))
        return result

    def metadata(self, n: int) -> dict:
        """Labels every set of numbers carries: sample count, feature space, reference."""
        meta = {"n_samples": n, "dataset": self.info.name}
        if self.kind.pixels:
            meta["features"] = self.space.name if self.space is not None else "pixels"
            meta["reference"] = self.split
            meta["n_reference"] = len(self.reference)
            meta.update(self.space.extra if self.space is not None else {})
        return meta
