"""Datasets by name: `data=<name>` on the command line picks a loader from `DATASETS`.

Every dataset here fits in memory, so it is held as one tensor (moved to the GPU when training
there) and batches are drawn by indexing it, not read item by item through worker processes.
A new dataset is one module that registers a loader plus one YAML in `conf/data/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from omegaconf import DictConfig

from gancli.registry import Registry

Split = Literal["train", "test"]


@dataclass(frozen=True)
class DataInfo:
    """What models, samplers and checkpoints need to know about a dataset without loading it."""

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]  # one item's shape: (C, H, W) for images, (2,) for points
    num_classes: int

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, d: dict) -> DataInfo:
        return cls(d["name"], d["kind"], tuple(d["shape"]), d["num_classes"])


@dataclass
class TensorData:
    """A whole dataset as tensors: images in [-1, 1] (N×C×H×W) or points (N×2), with labels."""

    info: DataInfo
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device) -> TensorData:
        return TensorData(self.info, self.x.to(device), self.y.to(device))

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """A batch drawn uniformly with replacement; `generator` makes it reproducible."""
        idx = torch.randint(len(self), (size,), generator=generator, device=self.x.device)
        return self.x[idx]


Loader = Callable[[DictConfig, Split], TensorData]
DATASETS: Registry[Loader] = Registry("dataset")
#: Decorator: make a loader available as `data=<name>`.
register_dataset = DATASETS.register


def load_dataset(cfg: DictConfig, split: Split = "train") -> TensorData:
    """Load the dataset `cfg.name` (a `DataConfig`)."""
    return DATASETS.lookup(cfg.name)(cfg, split)


# Importing the modules fills the registry.
from gancli.data import cifar, folder, images, points, stacked  # noqa: E402,F401
