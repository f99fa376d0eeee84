"""CIFAR-10 from the original `cifar-10-python.tar.gz`, read in memory from the archive.

The archive holds pickled batches (`cifar-10-batches-py/data_batch_1..5`, `test_batch`), each a
dict with `data` (N×3072 uint8, the R, G, B planes of 32×32 images in turn) and `labels`.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity

from gancli.data import Split
from gancli.data.store.cache import register_source
from gancli.data.store.format import PreparedWriter
from gancli.data.store.sources import Progress, Source, Written, file_identity, unit_to_pixels
from gancli.errors import GancliError

CIFAR10_ARCHIVE: str = CIFAR10.filename  # cifar-10-python.tar.gz
CIFAR10_MD5: str = CIFAR10.tgz_md5
CIFAR10_URL: str = CIFAR10.url
# The archive's batches.meta names them; written out here so that no pickle is read for them.
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def archive(cfg: DictConfig) -> Path:
    """The archive in `cfg.root`; a one-line error if it is not there."""
    if cfg.root is None:
        raise GancliError(
            f"data.root is not set: point it at the folder holding {CIFAR10_ARCHIVE} "
            f"(download it from {CIFAR10_URL})"
        )
    path = Path(cfg.root).expanduser() / CIFAR10_ARCHIVE
    if not path.is_file():
        raise GancliError(
            f"cifar10: expected {CIFAR10_ARCHIVE} in {path.parent} (download it "
            f"from {CIFAR10_URL} and set data.root=FOLDER holding it)"
        )
    return path


def read_cifar10(
    path: Path, split: Split, md5: str | None = CIFAR10_MD5
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's `split` from the archive at `path`, checked against `md5`, as uint8
    N×32×32×3 pixels and labels.

    `md5=None` skips the check; only tests pass it, to read small archives they build in the
    same format (the registered source always checks the published MD5).
    """
    if md5 is not None and not check_integrity(str(path), md5):
        raise GancliError(
            f"cifar10: {path} is corrupt (MD5 is not {md5}); download it again from {CIFAR10_URL}"
        )
    batches = CIFAR10.train_list if split == "train" else CIFAR10.test_list
    xs, ys = [], []
    with tarfile.open(path, "r:gz") as tar:
        for name, _ in batches:
            member = tar.extractfile(f"{CIFAR10.base_folder}/{name}")
            if member is None:
                raise GancliError(
                    f"cifar10: {path} holds no file {CIFAR10.base_folder}/{name}; "
                    f"download it again from {CIFAR10_URL}"
                )
            # Unpickling runs code chosen by the file's author, so it is safe only for a trusted
            # file: the MD5 check above has established this is the published archive (only
            # tests skip it, for archives they wrote themselves).
            entry = pickle.load(member, encoding="latin1")  # latin1: the batches are Python 2's
            xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(entry["labels"], dtype=np.int64))
    return np.concatenate(xs).transpose(0, 2, 3, 1), np.concatenate(ys)


@register_source("cifar10")
class Cifar10(Source):
    """CIFAR-10: 50,000 training and 10,000 test 32×32 colour images of 10 object classes."""

    #: The archive's MD5; None only in tests (see `read_cifar10`).
    md5: str | None = CIFAR10_MD5

    def identity(self, cfg: DictConfig) -> dict:
        return {"files": file_identity(archive(cfg)), "resolution": cfg.resolution}

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        path = archive(cfg)
        for split in ("train", "test"):
            pixels, labels = read_cifar10(path, split, self.md5)
            if cfg.resolution not in (None, 32):
                unit = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
                pixels = unit_to_pixels(unit, cfg.resolution)
            writer.add(split, pixels, labels)
        return Written(10, CIFAR10_CLASSES, source=str(path.resolve()))
