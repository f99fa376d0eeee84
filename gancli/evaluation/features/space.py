"""What a feature space is and the registry of them (`eval.features=<name>`).

A feature space turns uint8 pixels (the one format every image source is brought to: generator
output through `gancli.files.quantize`, PNG folders, `.npz` files) into feature vectors
and logits. Its builders register here and are imported by the package, so the registry is full
whichever of its modules is imported first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo
from gancli.registry import Registry


@dataclass
class Features:
    """What a feature space says about a set of images: feature vectors (N×D) and, when the
    space has a classifier head, logits (N×K)."""

    feats: torch.Tensor
    logits: torch.Tensor | None

    def __len__(self) -> int:
        return self.feats.shape[0]

    def to_dict(self) -> dict[str, torch.Tensor]:
        out = {"feats": self.feats}
        if self.logits is not None:
            out["logits"] = self.logits
        return out

    @classmethod
    def from_dict(cls, d: dict[str, torch.Tensor]) -> Features:
        return cls(d["feats"], d.get("logits"))

    def subset(self, idx: torch.Tensor) -> Features:
        return Features(self.feats[idx], None if self.logits is None else self.logits[idx])


@dataclass
class FeatureSpace:
    """A named feature extractor over uint8 N×C×H×W images.

    `settings` identifies it for the cache (anything that changes its output); `classes` says
    whether its logits are the dataset's own classes (then confidence and class-based mode
    counting apply); `extra` carries facts worth reporting (e.g. the classifier's test accuracy);
    `logits` says whether it has logits at all (a network cut at its features has none, and
    the metrics that need them, IS, cannot be fed: `no_logits` then says what would feed them).
    """

    name: str
    settings: dict
    extract_batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    device: torch.device
    classes: bool
    extra: dict
    logits: bool = True
    no_logits: str = ""

    @torch.no_grad()
    def extract(self, pixels: torch.Tensor, batch_size: int = 500) -> Features:
        """Features of uint8 images, computed in batches on `device`, returned on the CPU."""
        if pixels.dtype != torch.uint8:
            raise TypeError(f"feature spaces take uint8 pixels, got {pixels.dtype}")
        feats, logits = [], []
        for batch in pixels.split(batch_size):
            f, lg = self.extract_batch(batch.to(self.device))
            feats.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
        return Features(torch.cat(feats), torch.cat(logits) if logits else None)


SpaceBuilder = Callable[[DictConfig, DataInfo, DictConfig, torch.device], FeatureSpace]
FEATURE_SPACES: Registry[SpaceBuilder] = Registry("feature space (eval.features)")
#: Decorator: make a feature space available as `eval.features=<name>`.
register_space = FEATURE_SPACES.register


def build_space(
    opts: DictConfig, data_cfg: DictConfig, info: DataInfo, device: torch.device
) -> FeatureSpace:
    """The feature space `opts.features` for the dataset `data_cfg` (described by `info`)."""
    return FEATURE_SPACES.lookup(opts.features)(data_cfg, info, opts, device)
