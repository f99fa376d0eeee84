"""Stacked MNIST: three MNIST digits as the R, G and B channels of one image, 1,000 classes.

The standard mode-collapse benchmark for image GANs (Metz et al. 2017, Srivastava et al. 2017,
PacGAN): with 1,000 equally likely classes, how many a generator covers is a direct measure of
mode dropping. Each sample's three digits are drawn uniformly with replacement from the MNIST
split (train samples from MNIST's train split, test samples from its test split) with a fixed
seed, so the dataset is the same on every load. It has as many samples as the split it is drawn
from (60,000 / 10,000), not `data.num_points`: the size of an image dataset is fixed, as it is for
the others.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torchvision.datasets import MNIST

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.data.images import load_idx_dataset

SEED = 0
# Label = 100 * red digit + 10 * green digit + blue digit.
CHANNEL_WEIGHTS = torch.tensor([100, 10, 1])


@register_dataset("stacked_mnist")
def load_stacked_mnist(cfg: DictConfig, split: Split) -> TensorData:
    """Stacked MNIST built from the MNIST files in `cfg.root` (resized to `cfg.resolution`)."""
    mnist = load_idx_dataset("mnist", cfg, split, MNIST.resources)
    n = len(mnist)
    idx = torch.randint(n, (n, 3), generator=torch.Generator().manual_seed(SEED))
    x = mnist.x[:, 0][idx]  # N×3×H×W: channel c of sample i is MNIST digit idx[i, c]
    y = (mnist.y[idx] * CHANNEL_WEIGHTS).sum(dim=1)
    return TensorData(DataInfo("stacked_mnist", "image", tuple(x.shape[1:]), 1000), x, y)
