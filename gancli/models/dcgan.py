"""DCGAN (Radford et al. 2016) as in pytorch/examples: transposed convolutions with batch norm in
G, strided convolutions with LeakyReLU and batch norm in D, N(0, 0.02) initialisation. D's batch
norm is what `model.d_norm` makes of it (`gancli.models.build_models`): the Wasserstein losses'
recipes replace it with layer norm or nothing.

pytorch/examples fixes 64×64; here the number of stages follows the resolution (4·2^k) so the same
recipe serves 8×8 digits up to 64×64 images: G starts at 4×4 with width·2^(k-1) channels and halves
the width at each doubling, D mirrors it.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.models import d_width, log2_side, register_model, square_images


def stages_for(resolution: int) -> int:
    """k such that resolution = 4·2^k, k ≥ 1."""
    return log2_side(resolution, "dcgan") - 2


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, width: int, channels: int, resolution: int) -> None:
        super().__init__()
        k = stages_for(resolution)
        w = width * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, w, 4, 1, 0, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(True),
        ]
        for _ in range(k - 1):
            layers += [
                nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w // 2),
                nn.ReLU(True),
            ]
            w //= 2
        layers += [nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int, channels: int, resolution: int) -> None:
        super().__init__()
        k = stages_for(resolution)
        w = width
        layers: list[nn.Module] = [
            nn.Conv2d(channels, w, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(k - 1):
            layers += [
                nn.Conv2d(w, w * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            w *= 2
        layers.append(nn.Conv2d(w, 1, 4, 1, 0, bias=False))  # the 4×4 map → one score
        # The score layer stays the last of `net` so that state-dict keys are those of earlier
        # checkpoints; `features` and `score` split `net` around it.
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[:-1](x).flatten(1)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return self.net[-1](h.view(h.shape[0], -1, 4, 4)).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


@register_model("dcgan")
def build_dcgan(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    channels, height = square_images(info, "dcgan")
    return (
        DCGANGenerator(latent_dim, cfg.width, channels, height),
        DCGANDiscriminator(d_width(cfg), channels, height),
    )
