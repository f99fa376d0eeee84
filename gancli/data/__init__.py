"""Datasets by name: `data=<name>` on the command line picks a loader from `DATASETS`.

Image datasets are never held as floats. Each is decoded once into uint8 pixels in gancli's
prepared format (`gancli.data.store.format`: N×H×W×C `.npy` files and a manifest), either by
`gancli data prepare` or, for the built-in datasets, transparently into the cache on first use
(`gancli.data.store.cache`). A run memory-maps those files: every process of a torchrun job
shares the OS page cache's one copy, and a batch becomes floats only once it is on the training
device (`TensorData.take`). 2D points are generated in memory and kept as floats.

A new image dataset is one module that registers a `Source` (`gancli.data.store.sources`) plus
one YAML in `conf/data/`; any other loader registers here with `register_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from omegaconf import DictConfig

from gancli.errors import GancliError
from gancli.files import pixels_to_unit
from gancli.registry import Registry

if TYPE_CHECKING:
    from gancli.data.store.stream import Prefetcher

Split = Literal["train", "test"]


@dataclass(frozen=True)
class DataInfo:
    """What models, samplers and checkpoints need to know about a dataset without loading it."""

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]  # one item's shape: (C, H, W) for images, (2,) for points
    num_classes: int
    # Paired data (image → image): the shape of one input image (`TensorData.inputs`); None for
    # everything else.
    cond_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "cond_shape": None if self.cond_shape is None else list(self.cond_shape),
        }

    @classmethod
    def from_dict(cls, d: dict) -> DataInfo:
        cond = d.get("cond_shape")
        return cls(
            d["name"],
            d["kind"],
            tuple(d["shape"]),
            d["num_classes"],
            None if cond is None else tuple(cond),
        )


@dataclass
class TensorData:
    """A dataset's split as its stored rows, its labels, and where its batches go.

    `rows` holds uint8 pixels N×H×W×C for images (a memory-mapped file, or a copy on the GPU)
    and float N×2 for points. `take` turns chosen rows into the networks' form on `device`."""

    info: DataInfo
    rows: torch.Tensor
    y: torch.Tensor  # class labels (int64 N); zeros for paired data
    # Paired data: each item's input image, uint8 N×h×w×c row for row with `rows`.
    inputs: torch.Tensor | None = None
    # The file each item was read from (under `root`), for data read from a folder of files:
    # text conditioning finds the items' captions by file name in `root`'s captions file (a
    # prepared dataset keeps a copy of it); None otherwise.
    files: list[Path] | None = None
    # (k, n): batches are drawn from items k, k+n, k+2n, ... only (one rank's shard under
    # torchrun); (0, 1) is the whole set.
    part: tuple[int, int] = (0, 1)
    # A hash of the pixels and labels, known without reading them (the prepared manifest's);
    # None when it has to be computed (`gancli.evaluation.cache.content_hash`).
    fingerprint: str | None = None
    # The `.npy` file `rows` maps, for the stream reader; None for data held in memory.
    path: Path | None = None
    # Where `take` puts batches, and their memory layout there.
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    memory_format: torch.memory_format = torch.contiguous_format
    # Streamed placement: the reader that prefetches batches (`gancli.data.store.stream`).
    stream: Prefetcher | None = None

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def root(self) -> Path | None:
        """The prepared dataset's folder (where `files` and its captions file are), for data
        read from one."""
        return None if self.path is None else self.path.parent

    def shard(self, k: int, n: int) -> TensorData:
        """The same items, with batches drawn from the k-th of n disjoint shards. The rows are
        shared, not split, so item indices (which conditioning modes use to find an item's
        caption or input image) keep their meaning on every rank."""
        if not 0 <= k < n or n > len(self):
            raise GancliError(f"cannot take shard {k} of {n} from {len(self)} items")
        return replace(self, part=(k, n))

    def indices(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """`size` item indices drawn uniformly with replacement from this shard, on the
        generator's device; `generator` makes them reproducible."""
        k, n = self.part
        count = (len(self) - k + n - 1) // n
        drawn = torch.randint(count, (size,), generator=generator, device=generator.device)
        return drawn if n == 1 else drawn * n + k

    def use_channels_last(self) -> None:
        """Batches in NHWC layout from now on (`train.channels_last`), for images; points have
        no layout. The players' layout is chosen after the data is placed (it is measured on
        players built for this data), so it is set here rather than by `place`."""
        if self.rows.dim() == 4:
            self.memory_format = torch.channels_last

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """Items `idx` in the networks' form on `device`: gathered where the rows live, moved
        as uint8, converted there."""
        return self.to_model(self.rows[idx.to(self.rows.device)])

    def take_inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """Paired data: the input images of items `idx`, like `take`."""
        if self.inputs is None:
            raise GancliError(
                f"data={self.info.name} has no input images (use data=paired_folder "
                "or conditioning.task)"
            )
        return self.to_model(self.inputs[idx.to(self.inputs.device)])

    def to_model(self, rows: torch.Tensor) -> torch.Tensor:
        """Stored rows (on any device) in the networks' form on `device`: uint8 N×H×W×C
        pixels become floats in [-1, 1], N×C×H×W in `memory_format` (the layout is changed on
        the uint8 pixels, a quarter of the bytes the floats would move); float rows (points)
        stay as they are."""
        rows = rows.to(self.device, non_blocking=True)
        if rows.dtype != torch.uint8:
            return rows
        # Copied into a new tensor of exactly the layout's strides: `.contiguous()` would keep
        # a one-channel batch's permuted strides (they count as contiguous), with which cuDNN
        # makes channels-last activations in a run compiled for the contiguous layout.
        pixels = rows.permute(0, 3, 1, 2)
        laid_out = torch.empty(
            pixels.shape, dtype=pixels.dtype, device=pixels.device, memory_format=self.memory_format
        )
        return pixels_to_unit(laid_out.copy_(pixels))

    def draw(self, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch: item indices (on `device`) and the items (`take`). Streamed data
        returns the batch its reader prefetched (drawn from the reader's own generator)."""
        if self.stream is not None:
            return self.stream.next(size)
        idx = self.indices(size, generator)
        return idx.to(self.device), self.take(idx)

    def spread(self, n: int) -> torch.Tensor:
        """At most `n` items at even intervals through the set, like `take`: a sample of the
        whole set with no randomness, whatever order it is stored in (sorted by class, say)."""
        return self.take(torch.linspace(0, len(self) - 1, min(n, len(self))).round().long())

    def pixels(self) -> torch.Tensor:
        """Images as uint8 N×C×H×W on the CPU, what evaluation scores: a view of the stored rows
        (no copy; a memory-mapped file is read as it is used)."""
        if self.rows.dtype != torch.uint8:
            raise GancliError(f"data={self.info.name} holds {self.info.kind}, not images")
        return self.rows.cpu().permute(0, 3, 1, 2)


Loader = Callable[[DictConfig, Split], TensorData]
DATASETS: Registry[Loader] = Registry("dataset")
#: Decorator: make a loader available as `data=<name>`.
register_dataset = DATASETS.register


def load_dataset(cfg: DictConfig, split: Split = "train") -> TensorData:
    """Load the dataset `cfg.name` (a `DataConfig`)."""
    return DATASETS.lookup(cfg.name)(cfg, split)


# Importing the modules fills the registry.
from gancli.data import (  # noqa: E402,F401
    cifar,
    folder,
    images,
    paired,
    points,
    stacked,
)
from gancli.data.store import format as prepared_format  # noqa: E402,F401  (data=prepared)
