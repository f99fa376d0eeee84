"""Datasets by name: `data=<name>` on the command line picks a loader from `DATASETS`.

Every dataset here fits in memory, so it is held as one tensor (moved to the GPU when training
there) and batches are drawn by indexing it, not read item by item through worker processes.
A new dataset is one module that registers a loader plus one YAML in `conf/data/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from omegaconf import DictConfig

from gancli.errors import GancliError
from gancli.registry import Registry

Split = Literal["train", "test"]


@dataclass(frozen=True)
class DataInfo:
    """What models, samplers and checkpoints need to know about a dataset without loading it."""

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]  # one item's shape: (C, H, W) for images, (2,) for points
    num_classes: int
    # Paired data (image → image): the shape of one input image; `TensorData.y` holds the
    # inputs and `x` the targets. None for everything else, whose `y` holds class labels.
    cond_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "num_classes": self.num_classes,
                "cond_shape": None if self.cond_shape is None else list(self.cond_shape)}

    @classmethod
    def from_dict(cls, d: dict) -> DataInfo:
        cond = d.get("cond_shape")
        return cls(d["name"], d["kind"], tuple(d["shape"]), d["num_classes"],
                   None if cond is None else tuple(cond))


@dataclass
class TensorData:
    """A whole dataset as tensors: images in [-1, 1] (N×C×H×W) or points (N×2), with labels."""

    info: DataInfo
    x: torch.Tensor
    y: torch.Tensor
    # The file each item was read from, for data read from a folder of files (text
    # conditioning finds the items' captions by file name); None otherwise.
    files: list[Path] | None = None
    # (k, n): batches are drawn from items k, k+n, k+2n, ... only (one rank's shard under
    # torchrun); (0, 1) is the whole set.
    part: tuple[int, int] = (0, 1)

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device) -> TensorData:
        return replace(self, x=self.x.to(device), y=self.y.to(device))

    def shard(self, k: int, n: int) -> TensorData:
        """The same items, with batches drawn from the k-th of n disjoint shards. The tensors
        are shared, not split, so item indices (which conditioning modes use to find an item's
        caption or input image) keep their meaning on every rank."""
        if not 0 <= k < n or n > len(self):
            raise GancliError(f"cannot take shard {k} of {n} from {len(self)} items")
        return replace(self, part=(k, n))

    def indices(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """`size` item indices drawn uniformly with replacement from this shard; `generator`
        makes them reproducible."""
        k, n = self.part
        count = (len(self) - k + n - 1) // n
        drawn = torch.randint(count, (size,), generator=generator, device=self.x.device)
        return drawn if n == 1 else drawn * n + k

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """A batch of items drawn by `indices`."""
        return self.x[self.indices(size, generator)]


Loader = Callable[[DictConfig, Split], TensorData]
DATASETS: Registry[Loader] = Registry("dataset")
#: Decorator: make a loader available as `data=<name>`.
register_dataset = DATASETS.register


def load_dataset(cfg: DictConfig, split: Split = "train") -> TensorData:
    """Load the dataset `cfg.name` (a `DataConfig`)."""
    return DATASETS.lookup(cfg.name)(cfg, split)


# Importing the modules fills the registry.
from gancli.data import cifar, folder, images, paired, points, stacked  # noqa: E402,F401
