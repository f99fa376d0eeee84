"""CIFAR-10 from the original `cifar-10-python.tar.gz`, read in memory from the archive.

The archive holds pickled batches (`cifar-10-batches-py/data_batch_1..5`, `test_batch`), each a
dict with `data` (N×3072 uint8, the R, G, B planes of 32×32 images in turn) and `labels`.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.data.images import to_model_range
from gancli.errors import GancliError

CIFAR10_ARCHIVE: str = CIFAR10.filename  # cifar-10-python.tar.gz
CIFAR10_MD5: str = CIFAR10.tgz_md5
CIFAR10_URL: str = CIFAR10.url


def read_cifar10(cfg: DictConfig, split: Split, md5: str | None = CIFAR10_MD5) -> TensorData:
    """CIFAR-10's `split` from the archive in `cfg.root`, checked against `md5`.

    `md5=None` skips the check; only tests pass it, to read small archives they build in the
    same format (the registered loader always checks the published MD5).
    """
    if cfg.root is None:
        raise GancliError(f"data.root is not set: point it at the folder holding {CIFAR10_ARCHIVE} "
                          f"(download it from {CIFAR10_URL})")
    path = Path(cfg.root).expanduser() / CIFAR10_ARCHIVE
    if not path.is_file():
        raise GancliError(f"cifar10: expected {CIFAR10_ARCHIVE} in {path.parent} (download it "
                          f"from {CIFAR10_URL} and set data.root=FOLDER holding it)")
    if md5 is not None and not check_integrity(str(path), md5):
        raise GancliError(f"cifar10: {path} is corrupt (MD5 is not {md5}); download it again "
                          f"from {CIFAR10_URL}")
    batches = CIFAR10.train_list if split == "train" else CIFAR10.test_list
    xs, ys = [], []
    with tarfile.open(path, "r:gz") as tar:
        for name, _ in batches:
            member = tar.extractfile(f"{CIFAR10.base_folder}/{name}")
            # Unpickling runs code chosen by the file's author, so it is safe only for a trusted
            # file: the MD5 check above has established this is the published archive (only
            # tests skip it, for archives they wrote themselves).
            entry = pickle.load(member, encoding="latin1")  # latin1: the batches are Python 2's
            xs.append(torch.as_tensor(entry["data"], dtype=torch.uint8).view(-1, 3, 32, 32))
            ys.append(torch.as_tensor(entry["labels"], dtype=torch.long))
    x = to_model_range(torch.cat(xs).float() / 255.0, cfg.resolution)
    return TensorData(DataInfo("cifar10", "image", tuple(x.shape[1:]), 10), x, torch.cat(ys))


@register_dataset("cifar10")
def load_cifar10(cfg: DictConfig, split: Split) -> TensorData:
    """CIFAR-10: 50,000 training and 10,000 test 32×32 colour images of 10 object classes."""
    return read_cifar10(cfg, split)
