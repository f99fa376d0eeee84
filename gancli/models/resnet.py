"""The SNGAN ResNet generator and discriminator (Miyato et al. 2018, Appendix B; as in
kwotsin/mimicry's `sngan_32`), for 32×32 images and any other power-of-2 resolution ≥ 8.

G: z → linear to 4×4 → one up-sampling residual block per doubling → BN, ReLU, 3×3 conv, tanh.
D: an "optimised" first block and down-sampling residual blocks until 8×8 (4×4 for 8×8
inputs), two more residual blocks, ReLU, global sum pooling, linear. Spectral normalisation, as
in SNGAN, comes from `model.spectral_norm=true` (the `experiment=sngan` preset sets it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.models import d_width, log2_side, register_model, square_images


def _doublings(resolution: int) -> int:
    """k such that resolution = 4·2^k, k ≥ 1."""
    return log2_side(resolution, "resnet") - 2


class GBlock(nn.Module):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an up-sampled 1×1-conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """ReLU-conv-ReLU-conv (optionally average-pooled), plus a 1×1-conv shortcut.

    The "optimised" first block of SNGAN has no ReLU before its first conv (the input is an
    image) and pools before its shortcut conv."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        return self._pool(h) + self._skip(x)

    def _pool(self, t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, 2) if self.down else t

    def _skip(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return x
        if self.first:  # SNGAN's optimised block pools before the 1×1 conv
            return self.shortcut(self._pool(x))
        return self._pool(self.shortcut(x))


class ResNetGenerator(nn.Module):
    def __init__(self, latent_dim: int, width: int, channels: int, resolution: int) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(latent_dim, 4 * 4 * width)
        self.blocks = nn.Sequential(*[GBlock(width, width) for _ in range(_doublings(resolution))])
        self.out = nn.Sequential(
            nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, padding=1), nn.Tanh()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.fc(z).view(-1, self.width, 4, 4)))


class ResNetDiscriminator(nn.Module):
    def __init__(self, width: int, channels: int, resolution: int) -> None:
        super().__init__()
        downs = max(1, _doublings(resolution) - 1)  # stop at 8×8 (4×4 for 8×8 inputs)
        blocks = [DBlock(channels, width, down=True, first=True)]
        blocks += [DBlock(width, width, down=True) for _ in range(downs - 1)]
        blocks += [DBlock(width, width, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(width, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(h).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x))


@register_model("resnet")
def build_resnet(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """SNGAN's widths are 256 in G and 128 in D: G gets 2·width, D gets width."""
    channels, height = square_images(info, "resnet")
    return (
        ResNetGenerator(latent_dim, 2 * cfg.width, channels, height),
        ResNetDiscriminator(d_width(cfg), channels, height),
    )
