"""Stacked MNIST: three MNIST digits as the R, G and B channels of one image, 1,000 classes.

The standard mode-collapse benchmark for image GANs (Metz et al. 2017, Srivastava et al. 2017,
PacGAN): with 1,000 equally likely classes, how many a generator covers is a direct measure of
mode dropping. Each sample's three digits are drawn uniformly with replacement from the MNIST
split (train samples from MNIST's train split, test samples from its test split) with a fixed
seed, so the dataset is the same on every load. It has as many samples as the split it is drawn
from (60,000 / 10,000), not `data.num_points`: the size of an image dataset is fixed, as it is for
the others.

Its evaluation follows VEEGAN and PacGAN (`PROTOCOL`): each channel is classified by an MNIST
classifier, so the joint distribution over the 1,000 (red, green, blue) digit triples is the
product of the channels'; a class is captured by any sample classified into it, and KL is to the
uniform 1,000 classes, since the test split's own histogram (10,000 samples for 1,000 classes,
~10 ± 3 each) is too noisy to be the target.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from gancli.data.images import Mnist
from gancli.data.store.cache import register_source
from gancli.data.store.format import PreparedWriter
from gancli.data.store.sources import ClassProtocol, Progress, Written, unit_to_pixels

SEED = 0
# Label = 100 * red digit + 10 * green digit + blue digit.
CHANNEL_WEIGHTS = np.array([100, 10, 1])
#: The published protocol (module docstring).
PROTOCOL = ClassProtocol(threshold=0.0, uniform=True, channels_of="mnist")


@register_source("stacked_mnist")
class StackedMnist(Mnist):
    """Stacked MNIST built from the MNIST files in `cfg.root` (resized to `cfg.resolution`)."""

    protocol = PROTOCOL

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        for split in ("train", "test"):
            x, y = self.read(cfg, split)
            pixels = unit_to_pixels(x, cfg.resolution)[..., 0]  # N×H×W
            n = len(pixels)
            idx = torch.randint(n, (n, 3), generator=torch.Generator().manual_seed(SEED)).numpy()
            # Channel c of sample i is MNIST digit idx[i, c].
            writer.add(
                split,
                np.stack([pixels[idx[:, c]] for c in range(3)], axis=-1),
                (y[idx] * CHANNEL_WEIGHTS).sum(axis=1),
            )
        return Written(1000, [], source=str(cfg.root))
