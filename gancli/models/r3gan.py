"""R3GAN's simplified architecture (Huang et al. 2024, "The GAN is dead; long live the GAN! A
Modern GAN Baseline", Sec. 3.3; brownvc/R3GAN `R3GAN/Networks.py`), in plain PyTorch.

No mapping network, no normalisation layer: every stage is a few residual blocks
x + 1×1(act(grouped 3×3(act(1×1 expand(x))))), with biases and leaky ReLU 0.2. Each block's
last conv starts at zero, so every block starts as the identity, and the others are He
initialised scaled by L^(-1/4) for L blocks (Fix-up; Zhang et al. 2019): the residual sums
keep their variance without a normalisation layer. Resampling by 2 is bilinear, [1,2,1]
filtered. G: z → a learned 4×4 basis scaled per channel by a linear map of z → stages with ×2
up-sampling between them → 1×1 conv → tanh. D mirrors it: 1×1 conv → stages with ×2
down-sampling between them → a depthwise 4×4 conv to one vector (`features`) → linear (`score`).
Class conditioning is gancli's generic one (`conditioning=class conditioning.g=concat
conditioning.d=projection`), which is R3GAN's: a label embedding appended to z in G and an
inner product with D's last features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.models import d_width, log2_side, register_model, square_images

#: He gain of leaky ReLU 0.2: the std a layer before one needs to keep activations' variance.
LEAKY_GAIN = nn.init.calculate_gain("leaky_relu", 0.2)
#: Convolutions per residual branch (m in Fix-up's L^(-1/(2m-2))).
BRANCH_LAYERS = 3


def he_init(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    """Weights N(0, gain²/fan_in) (gain 0: zero), biases zero, as R3GAN's `MSRInitializer`."""
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(layer.weight[0].numel()))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class Resample(nn.Module):
    """×2 bilinear up- or down-sampling of each channel: the [1,2,1] filter convolved with the
    [1,1] box, [1,3,3,1]/8 on each axis (R3GAN's `InterpolativeUp/Downsampler`). A fixed
    buffer through `F.conv2d`, so that D stays twice differentiable for R1/R2."""

    kernel: torch.Tensor  # the registered buffer

    def __init__(self, up: bool) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
        # Non-persistent: a fixed constant, not part of a checkpoint.
        self.register_buffer(
            "kernel", (taps[:, None] * taps[None, :] / 64).view(1, 1, 4, 4), persistent=False
        )
        self.up = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.reshape(n * c, 1, h, w)
        if self.up:  # zero insertion leaves 1 pixel in 4: the kernel's sum goes back to 4
            y = F.conv_transpose2d(flat, 4 * self.kernel, stride=2, padding=1)
        else:
            y = F.conv2d(flat, self.kernel, stride=2, padding=1)
        return y.view(n, c, *y.shape[2:])


class ResidualBlock(nn.Module):
    """x + 1×1(act(grouped 3×3(act(1×1(x))))), identity at initialisation."""

    def __init__(self, width: int, expansion: int, group_size: int, total_blocks: int) -> None:
        super().__init__()
        wide = width * expansion
        gain = LEAKY_GAIN * total_blocks ** (-1 / (2 * BRANCH_LAYERS - 2))
        self.branch = nn.Sequential(
            he_init(nn.Conv2d(width, wide, 1), gain),
            nn.LeakyReLU(0.2),
            he_init(nn.Conv2d(wide, wide, 3, padding=1, groups=wide // group_size), gain),
            nn.LeakyReLU(0.2),
            he_init(nn.Conv2d(wide, width, 1, bias=False), 0.0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class R3GANGenerator(nn.Module):
    def __init__(
        self, latent_dim: int, channels: int, width: int, stages: list[nn.Sequential]
    ) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, 4, 4))
        self.fc = he_init(nn.Linear(latent_dim, width, bias=False))
        layers: list[nn.Module] = [stages[0]]
        for stage in stages[1:]:
            layers += [Resample(up=True), stage]
        layers += [he_init(nn.Conv2d(width, channels, 1, bias=False)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.basis * self.fc(z)[:, :, None, None])


class R3GANDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int, stages: list[nn.Sequential]) -> None:
        super().__init__()
        layers: list[nn.Module] = [he_init(nn.Conv2d(channels, width, 1, bias=False))]
        for stage in stages[:-1]:
            layers += [stage, Resample(up=False)]
        layers += [stages[-1], he_init(nn.Conv2d(width, width, 4, groups=width, bias=False))]
        self.net = nn.Sequential(*layers)
        self.fc = he_init(nn.Linear(width, 1, bias=False))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(h).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x))


def make_stages(cfg: DictConfig, side: int, width: int) -> list[nn.Sequential]:
    """One stage of `cfg.blocks_per_stage` blocks of `width` channels per resolution from 4×4
    to side×side."""
    wide = width * cfg.expansion
    if wide % cfg.group_size:
        raise GancliError(
            f"model=r3gan splits a width of {width} × model.expansion = {wide} "
            f"channels into groups of model.group_size={cfg.group_size}: make the "
            "product a multiple of it"
        )
    count = log2_side(side, "r3gan") - 1
    total = count * cfg.blocks_per_stage
    return [
        nn.Sequential(
            *[
                ResidualBlock(width, cfg.expansion, cfg.group_size, total)
                for _ in range(cfg.blocks_per_stage)
            ]
        )
        for _ in range(count)
    ]


@register_model("r3gan")
def build_r3gan(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """G of `model.width` channels and D of `model.d_width` at every resolution."""
    channels, side = square_images(info, "r3gan")
    return (
        R3GANGenerator(latent_dim, channels, cfg.width, make_stages(cfg, side, cfg.width)),
        R3GANDiscriminator(channels, d_width(cfg), make_stages(cfg, side, d_width(cfg))),
    )
