"""Image datasets: scikit-learn's bundled digits, and MNIST and Fashion-MNIST from their
original IDX files, decoded into the prepared format (resized once to `data.resolution`)."""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import calculate_md5, extract_archive

from gancli.data.store.cache import register_source
from gancli.data.store.format import PreparedWriter
from gancli.data.store.sources import Progress, Source, Written, file_identity, unit_to_pixels
from gancli.errors import GancliError

DIGIT_CLASSES = [str(d) for d in range(10)]


@register_source("digits")
class Digits(Source):
    """The 1,797 8×8 digits shipped inside scikit-learn (no network), split 80/20 by a fixed
    permutation since the package has no split of its own."""

    def identity(self, cfg: DictConfig) -> dict:
        return {"sklearn": metadata.version("scikit-learn"), "resolution": cfg.resolution}

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        from sklearn.datasets import load_digits as sk_digits

        bunch = sk_digits()
        x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = np.asarray(bunch.target, dtype=np.int64)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).numpy()
        n_test = len(x) // 5
        for split, idx in (("train", order[n_test:]), ("test", order[:n_test])):
            writer.add(split, unit_to_pixels(x[idx], cfg.resolution), y[idx])
        return Written(10, DIGIT_CLASSES, source="scikit-learn digits")


class IDXSource(Source):
    """An MNIST-format dataset from the original `.gz` files in `cfg.root`, checked by the MD5
    sums torchvision publishes (`resources`: (file name, md5) pairs).

    torchvision's own dataset classes want the files under `<root>/<Class>/raw/`; gancli's
    contract is a plain folder of the original files, so we check and unpack them here and
    reuse torchvision's IDX readers."""

    name: str
    #: The dataset's name for a person ("Fashion-MNIST").
    title: str
    resources: list[tuple[str, str]]
    classes: list[str]

    def files(self, cfg: DictConfig) -> list[tuple[Path, str]]:
        """The four original files and their MD5 sums; a one-line error if any is missing."""
        if cfg.root is None:
            raise GancliError(
                f"data.root is not set: point it at a folder holding the "
                f"{self.name} files ({', '.join(f for f, _ in self.resources)})"
            )
        root = Path(cfg.root).expanduser()
        for fname, _ in self.resources:
            if not (root / fname).is_file():
                raise GancliError(
                    f"{self.name}: expected {fname} in {root} (set data.root="
                    f"FOLDER holding the four original {self.name} .gz files)"
                )
        return [(root / fname, md5) for fname, md5 in self.resources]

    def identity(self, cfg: DictConfig) -> dict:
        return {
            "files": file_identity(*(p for p, _ in self.files(cfg))),
            "resolution": cfg.resolution,
        }

    def read(self, cfg: DictConfig, split: str) -> tuple[torch.Tensor, np.ndarray]:
        """Split `split` as float images in [0, 1] (N×1×28×28) and labels, MD5-checked."""
        prefix = "train" if split == "train" else "t10k"
        wanted = [(p, md5) for p, md5 in self.files(cfg) if p.name.startswith(prefix)]
        for path, md5 in wanted:
            if (found := calculate_md5(path)) != md5:
                raise GancliError(self.wrong_file(path, found, md5))
        (images_gz, _), (labels_gz, _) = wanted
        with tempfile.TemporaryDirectory(prefix="gancli-idx-") as tmp:
            images = read_image_file(extract_archive(str(images_gz), tmp))
            labels = read_label_file(extract_archive(str(labels_gz), tmp))
        return images.unsqueeze(1).float() / 255.0, labels.numpy().astype(np.int64)

    def wrong_file(self, path: Path, found: str, md5: str) -> str:
        """The line for a file whose MD5 is `found`, not `md5`: another MNIST-format dataset's
        original (same names, same format) is named as such, anything else is corrupt."""
        other = KNOWN_IDX.get(found)
        if other is None:
            return (
                f"{self.name}: {path} is corrupt (MD5 is not {md5}); replace it with the "
                "original file"
            )
        title, fname, name = other
        use = f"use data={name}, or " if name else ""
        return (
            f"data={self.name}: {path} is {title}'s {fname}, not {self.title}'s: {use}set "
            f"data.root to a folder of the {self.title} files"
        )

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        for split in ("train", "test"):
            x, y = self.read(cfg, split)
            writer.add(split, unit_to_pixels(x, cfg.resolution), y)
        return Written(10, self.classes, source=str(Path(cfg.root).expanduser().resolve()))


@register_source("mnist")
class Mnist(IDXSource):
    """MNIST: 60,000 training and 10,000 test digits, 28×28 grey."""

    name, title, resources, classes = "mnist", "MNIST", MNIST.resources, DIGIT_CLASSES


@register_source("fashion_mnist")
class FashionMnist(IDXSource):
    """Fashion-MNIST: a drop-in replacement for MNIST (same IDX files, sizes and 10 classes) of
    Zalando article photos, harder to fit than digits."""

    name, title, resources = "fashion_mnist", "Fashion-MNIST", FashionMNIST.resources
    classes = FashionMNIST.classes


#: The original files of the MNIST-format datasets by MD5: (dataset, file name, its `data=`
#: name or None), so that one dataset's files given as another's are named, not called corrupt
#: (their names and format are the same; the MD5 of each is computed anyway).
KNOWN_IDX: dict[str, tuple[str, str, str | None]] = {
    md5: (title, fname, name)
    for title, name, resources in (
        ("MNIST", "mnist", MNIST.resources),
        ("Fashion-MNIST", "fashion_mnist", FashionMNIST.resources),
        ("Kuzushiji-MNIST", None, KMNIST.resources),
    )
    for fname, md5 in resources
}
