"""Image datasets: scikit-learn's bundled digits, and MNIST and Fashion-MNIST from their
original IDX files.

Images are held as float tensors in [-1, 1] (the range of the generator's tanh), N×C×H×W,
resized once to `data.resolution`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torchvision.datasets import MNIST, FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import check_integrity, extract_archive

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.errors import GancliError


def to_model_range(images: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """Float images in [0, 1], N×C×H×W, resized to `resolution` and mapped to [-1, 1].

    Works in place where it can: pass a tensor the caller no longer needs."""
    if resolution is not None and images.shape[-1] != resolution:
        images = F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                               antialias=True, align_corners=False).clamp_(0, 1)
    return images.mul_(2).sub_(1)  # in place: MNIST at 32×32 is 235 MB a copy


@register_dataset("digits")
def load_digits(cfg: DictConfig, split: Split) -> TensorData:
    """The 1,797 8×8 digits shipped inside scikit-learn (no network), split 80/20 by a fixed
    permutation since the package has no split of its own."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.as_tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_test = len(x) // 5
    idx = order[n_test:] if split == "train" else order[:n_test]
    x = to_model_range(x[idx], cfg.resolution)
    return TensorData(DataInfo("digits", "image", tuple(x.shape[1:]), 10), x, y[idx])


def load_idx_dataset(name: str, cfg: DictConfig, split: Split,
                     resources: list[tuple[str, str]]) -> TensorData:
    """An MNIST-format dataset from the original `.gz` files in `cfg.root`, checked by the MD5
    sums torchvision publishes (`resources`: (file name, md5) pairs).

    torchvision's own dataset classes want the files under `<root>/<Class>/raw/`; gancli's
    contract is a plain folder of the original files, so we check and unpack them here and
    reuse torchvision's IDX readers.
    """
    if cfg.root is None:
        raise GancliError(f"data.root is not set: point it at a folder holding the {name} files "
                          f"({', '.join(f for f, _ in resources)})")
    root = Path(cfg.root).expanduser()
    prefix = "train" if split == "train" else "t10k"
    wanted = [(f, md5) for f, md5 in resources if f.startswith(prefix)]
    for fname, md5 in wanted:
        path = root / fname
        if not path.is_file():
            raise GancliError(f"{name}: expected {fname} in {root} (set data.root=FOLDER holding "
                              f"the four original {name} .gz files)")
        if not check_integrity(str(path), md5):
            raise GancliError(f"{name}: {path} is corrupt (MD5 is not {md5}); replace it with "
                              "the original file")
    images_gz, labels_gz = (root / f for f, _ in wanted)
    with tempfile.TemporaryDirectory(prefix="gancli-idx-") as tmp:
        images = read_image_file(extract_archive(str(images_gz), tmp))
        labels = read_label_file(extract_archive(str(labels_gz), tmp))
    x = to_model_range(images.unsqueeze(1).float() / 255.0, cfg.resolution)
    return TensorData(DataInfo(name, "image", tuple(x.shape[1:]), 10), x, labels.long())


@register_dataset("mnist")
def load_mnist(cfg: DictConfig, split: Split) -> TensorData:
    """MNIST: 60,000 training and 10,000 test digits, 28×28 grey."""
    return load_idx_dataset("mnist", cfg, split, MNIST.resources)


@register_dataset("fashion_mnist")
def load_fashion_mnist(cfg: DictConfig, split: Split) -> TensorData:
    """Fashion-MNIST: a drop-in replacement for MNIST (same IDX files, sizes and 10 classes) of
    Zalando article photos, harder to fit than digits."""
    return load_idx_dataset("fashion_mnist", cfg, split, FashionMNIST.resources)
