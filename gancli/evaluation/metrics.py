"""The metrics `eval.metrics` names, each one registered function saying what it writes and needs.

An entry holds everything the rest of evaluation asks about a metric: the values it writes to
eval.json, which of them are better when higher (for `eval.primary` and `checkpoints/best.pt`;
every other value is better when lower), the one it is ranked by when it is the first one asked
for, what it needs, and the kinds of sample set it is computed for by default. The `Evaluator`
(`gancli.evaluation.evaluate`) checks needs, picks defaults and directions from these entries
instead of lists of names. The arithmetic lives in modules of its own
(`distribution`, `manifold`, `modes`, `memorization`, `conditional`, `translation`), tested on
sets whose answer is known; an entry only feeds it.

A new metric: its computation, then one `@register_metric(...)` function here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import torch

from gancli.data import DataInfo, TensorData
from gancli.data.kinds import DataKind
from gancli.data.store.sources import class_protocol
from gancli.evaluation import conditional, distribution, manifold
from gancli.evaluation.features import Features
from gancli.evaluation.memorization import memorization
from gancli.evaluation.modes import score_classes
from gancli.evaluation.translation import translation_scores
from gancli.files import pixels_to_unit
from gancli.registry import Registry

#: What a metric may need of image samples, with what each means:
NEEDS = {
    "features": "the feature space's feature vectors (eval.features)",
    "logits": "the feature space's logits",
    "classes": "logits over the dataset's own classes (eval.features=classifier)",
    "labels": "the class each sample was generated for (class- or text-conditional)",
    "pairs": "the target each sample should match (image-to-image)",
}
#: Needs that make the evaluator build the feature space.
SPACE_NEEDS = frozenset({"features", "logits", "classes"})
#: Kinds of image sample set a metric can be a default for: unconditional images, class- or
#: text-conditional ones, image translations. (Samples scored alone, not as pixels in a feature
#: space, get every metric that is `raw`.)
SAMPLE_SETS = frozenset({"images", "labels", "pairs"})

T = TypeVar("T")


def given(value: T | None, what: str) -> T:
    """An input a metric's `needs` guarantee: the evaluator supplies it to every metric that
    declares the need, so its absence is a bug in gancli, not the user's mistake."""
    if value is None:
        raise RuntimeError(
            f"a metric that needs {what} got none: the evaluator did not "
            "supply what the metric's entry declares"
        )
    return value


class Evaluation(Protocol):
    """What metrics read from the evaluator feeding them: the data, real splits loaded once."""

    info: DataInfo
    kind: DataKind
    device: torch.device
    reference: TensorData
    class_prior: torch.Tensor | None

    def test_split(self) -> TensorData: ...

    def memorization_sets(self) -> tuple[torch.Tensor, torch.Tensor, dict]: ...


@dataclass
class Inputs:
    """What a metric function may use: generated samples (uint8 pixels or 2D points), their
    features, the reference set's features, and where to write pictures."""

    samples: torch.Tensor
    fake: Features | None
    real: Features | None
    evaluator: Evaluation
    out_dir: Path | None
    # Conditional generators: the class each sample was generated for (and which were asked
    # with a held-out caption phrasing), or the target each translated image should match.
    labels: torch.Tensor | None = None
    unseen: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def fake_logits(self) -> torch.Tensor:
        """The generated samples' logits (for metrics that need `logits` or `classes`)."""
        return given(given(self.fake, "features").logits, "logits")


@dataclass(frozen=True)
class Metric:
    """One metric: `compute` and what the evaluator must know about it (module docstring)."""

    compute: Callable[[Inputs], dict]
    keys: tuple[str, ...]
    higher: frozenset[str]
    ranked_by: str
    needs: frozenset[str]
    defaults: frozenset[str]
    raw: bool

    def __post_init__(self) -> None:
        """A wrong entry fails at import, not in someone's evaluation."""
        if not (
            self.higher | {self.ranked_by} <= set(self.keys)
            and self.needs <= NEEDS.keys()
            and self.defaults <= SAMPLE_SETS
        ):
            raise ValueError(
                f"metric {self.compute.__name__}: higher and ranked_by must be among "
                f"its keys, needs among {sorted(NEEDS)}, defaults among "
                f"{sorted(SAMPLE_SETS)}"
            )

    def __call__(self, inputs: Inputs) -> dict:
        return self.compute(inputs)


METRICS: Registry[Metric] = Registry("metric (eval.metrics)")


def register_metric(
    name: str,
    *,
    keys: Iterable[str],
    higher: Iterable[str] = (),
    ranked_by: str | None = None,
    needs: Iterable[str] = (),
    defaults: Iterable[str] = (),
    raw: bool = False,
) -> Callable[[Callable[[Inputs], dict]], Callable[[Inputs], dict]]:
    """Decorator: make the function the metric `eval.metrics=[<name>]`, writing `keys` (those
    in `higher` better when higher), ranked by `ranked_by` (default: the first key), needing
    `needs` (of `NEEDS`), computed by default for the `defaults` (of `SAMPLE_SETS`); `raw`: it
    also scores samples alone, those that are not pixels (`DataKind.pixels`: 2D points)."""

    def add(compute: Callable[[Inputs], dict]) -> Callable[[Inputs], dict]:
        key_list = tuple(keys)
        METRICS.register(name)(
            Metric(
                compute,
                key_list,
                frozenset(higher),
                ranked_by or key_list[0],
                frozenset(needs),
                frozenset(defaults),
                raw,
            )
        )
        return compute

    return add


def higher_is_better(key: str) -> bool:
    """Whether a value in eval.json is better when higher (lower, unless a metric says so)."""
    return any(key in metric.higher for metric in METRICS.values())


@register_metric("fid", keys=["fid"], needs=["features"], defaults=["images", "labels", "pairs"])
def fid(x: Inputs) -> dict:
    return distribution.fid(given(x.real, "features"), given(x.fake, "features"))


@register_metric(
    "kid", keys=["kid_mean", "kid_std"], needs=["features"], defaults=["images", "labels"]
)
def kid(x: Inputs) -> dict:
    return distribution.kid(given(x.real, "features"), given(x.fake, "features"))


@register_metric(
    "is",
    keys=["is_mean", "is_std"],
    higher=["is_mean"],
    needs=["logits"],
    defaults=["images", "labels"],
)
def inception_score(x: Inputs) -> dict:
    return distribution.inception_score(given(x.fake, "logits"))


@register_metric(
    "pr",
    keys=["precision", "recall"],
    higher=["precision", "recall"],
    needs=["features"],
    defaults=["images", "labels"],
)
def precision_recall(x: Inputs) -> dict:
    return manifold.precision_recall(given(x.real, "features"), given(x.fake, "features"))


@register_metric(
    "dc",
    keys=["density", "coverage"],
    higher=["density", "coverage"],
    ranked_by="coverage",
    needs=["features"],
    defaults=["images", "labels"],
)
def density_coverage(x: Inputs) -> dict:
    return manifold.density_coverage(given(x.real, "features"), given(x.fake, "features"))


@register_metric(
    "modes",
    keys=["modes_captured", "modes_total", "reverse_kl", "hq_fraction"],
    higher=["modes_captured", "hq_fraction"],
    ranked_by="reverse_kl",
    needs=["classes"],
    defaults=["images", "labels"],
    raw=True,
)
def modes(x: Inputs) -> dict:
    """Pixels: classes through the classifier, counted as the dataset's protocol says; samples
    scored alone: against the data's geometry, as their kind says (2D points: VEEGAN/PacGAN)."""
    ev = x.evaluator
    if not ev.kind.pixels:
        return ev.kind.score_modes(x.samples)
    scores = score_classes(x.fake_logits(), ev.class_prior, class_protocol(ev.info))
    scores.pop("confidence")
    return scores


@register_metric(
    "confidence",
    keys=["confidence"],
    higher=["confidence"],
    needs=["classes"],
    defaults=["images", "labels"],
)
def confidence(x: Inputs) -> dict:
    return {"confidence": score_classes(x.fake_logits(), x.evaluator.class_prior)["confidence"]}


@register_metric(
    "memorization",
    keys=["memorization_ratio", "memorized_fraction", "memorization_flag"],
    higher=["memorization_ratio"],
    ranked_by="memorized_fraction",
    defaults=["images", "labels"],
)
def memorization_scores(x: Inputs) -> dict:
    """Nearest training images in pixel space; the closest pairs go to memorization.png."""
    train, test, key = x.evaluator.memorization_sets()
    png = x.out_dir / "memorization.png" if x.out_dir is not None else None
    return memorization(x.samples, train, test, key, png)


@register_metric(
    "intra_fid",
    keys=["intra_fid", "intra_fid_classes"],
    needs=["features", "labels"],
    defaults=["labels"],
)
def intra_fid(x: Inputs) -> dict:
    return conditional.intra_fid(
        given(x.real, "features"),
        x.evaluator.reference.y,
        given(x.fake, "features"),
        given(x.labels, "labels"),
    )


@register_metric("cas", keys=["cas"], higher=["cas"], needs=["labels"], defaults=["labels"])
def classification_accuracy_score(x: Inputs) -> dict:
    return conditional.classification_accuracy_score(
        x.samples, given(x.labels, "labels"), x.evaluator.test_split(), x.evaluator.device
    )


MATCH_KEYS = ["match_accuracy", "match_accuracy_seen", "match_accuracy_unseen"]


@register_metric(
    "match", keys=MATCH_KEYS, higher=MATCH_KEYS, needs=["classes", "labels"], defaults=["labels"]
)
def match_accuracy(x: Inputs) -> dict:
    return conditional.match_accuracy(x.fake_logits(), given(x.labels, "labels"), x.unseen)


@register_metric(
    "translation",
    keys=["l1", "psnr", "ssim"],
    higher=["psnr", "ssim"],
    needs=["pairs"],
    defaults=["pairs"],
)
def translation(x: Inputs) -> dict:
    return translation_scores(pixels_to_unit(x.samples), pixels_to_unit(given(x.targets, "pairs")))
