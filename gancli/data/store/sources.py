"""Image datasets as sources: what decodes a dataset's original files into the prepared format.

`data=<name>` of an image dataset opens its prepared copy (`gancli.data.store.cache` makes it on
first use); `gancli data prepare data=<name> out=DIR` writes one where the user says. Either way
the dataset's `Source` does the decoding, once. A new image dataset is a `Source` subclass
registered with `gancli.data.store.cache.register_source` and a YAML in `conf/data/`. A source
also carries how evaluation counts its dataset's modes through a classifier (`ClassProtocol`),
so that a dataset with a published protocol of its own (Stacked MNIST) is one module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from gancli.data import DataInfo
from gancli.data.store.format import PreparedWriter
from gancli.registry import Registry

#: A generated image counts towards its class's mode only when the classifier is this sure.
CONFIDENT = 0.9


@dataclass(frozen=True)
class ClassProtocol:
    """How a dataset's modes are counted through a classifier (`gancli.evaluation.modes`):
    `threshold`, the probability a sample's class needs for the class to count as captured;
    `uniform`, whether the histogram is compared with the uniform distribution (a published
    protocol) rather than the reference split's class frequencies; `channels_of`, the dataset
    whose images are this one's channels, each classified by that dataset's classifier (None:
    whole images, by a classifier of this dataset)."""

    threshold: float = CONFIDENT
    uniform: bool = False
    channels_of: str | None = None


#: The protocol of data with none of its own: confident classes, the reference split's
#: frequencies.
USUAL = ClassProtocol()


@dataclass
class Summary:
    """What a prepare did to the images, for its closing table and the manifest."""

    kept: int = 0
    converted: int = 0  # channels or bit depth changed (grey → RGB, RGBA → RGB, 16-bit → 8-bit)
    cropped: int = 0  # not square: cropped, padded or stretched to a square (`data.fit`)
    resized: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def to_dict(self) -> dict:
        return {
            "kept": self.kept,
            "converted": self.converted,
            "cropped": self.cropped,
            "resized": self.resized,
            "skipped": [list(s) for s in self.skipped],
        }


@dataclass
class Progress:
    """How a source runs and where it reports how far decoding has got. The default shows
    nothing (the cache prepares built-in datasets silently), `gancli data prepare` draws a bar
    and passes its `workers=` and `strict=`."""

    # Decoding processes for sources that decode file by file; 0: one per CPU core.
    workers: int = 0
    # Fail on the first file that cannot be decoded, instead of skipping it (and naming it in
    # the summary).
    strict: bool = False

    def start(self, what: str, total: int) -> None:
        """A new stage of `total` items begins."""

    def advance(self, n: int = 1) -> None:
        """`n` more items of the current stage are done."""


@dataclass
class Written:
    """What a source tells the manifest besides its arrays."""

    num_classes: int
    classes: list[str]
    summary: Summary = field(default_factory=Summary)
    # The source folder or file, for the manifest.
    source: str = ""


class Source:
    """Decodes one image dataset into a `PreparedWriter`."""

    #: Bump when a change to the code changes the decoded pixels of this source.
    version: int = 1
    #: How evaluation counts the dataset's modes.
    protocol: ClassProtocol = USUAL

    def identity(self, cfg: DictConfig) -> dict:
        """Everything that determines the decoded arrays (settings, and the source files' names,
        sizes and modification times), cheap to compute: the cache key of the prepared copy.
        Raises the one-line error of missing data, so a run fails before any decoding."""
        raise NotImplementedError

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        """Decode every split into `writer`."""
        raise NotImplementedError


#: Every image dataset's source by `data=` name; `gancli.data.store.cache.register_source` fills it.
SOURCES: Registry[Source] = Registry("dataset")


def class_protocol(info: DataInfo) -> ClassProtocol:
    """How evaluation counts the modes of `info`'s dataset: its source's protocol, the usual
    one for data that has no source of its own."""
    source = SOURCES.get(info.name)
    return USUAL if source is None else source.protocol


def file_identity(*paths: Path) -> list[list]:
    """Name, size and modification time of each file: what says it has not changed since it was
    decoded, without reading it (as make and DVC do)."""
    out = []
    for path in paths:
        st = path.stat()
        out.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return out


def unit_to_pixels(images: torch.Tensor, resolution: int | None) -> np.ndarray:
    """Float images in [0, 1], N×C×H×W, resized to `resolution` (bilinear with antialiasing)
    and rounded to uint8 N×H×W×C rows, the prepared layout."""
    if resolution is not None and images.shape[-1] != resolution:
        images = F.interpolate(
            images,
            size=(resolution, resolution),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
    return (
        images.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    )
