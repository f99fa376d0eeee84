"""The pix2pix networks (Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks"), as in the official pytorch-CycleGAN-and-pix2pix repository (junyanz,
`models/networks.py`: `UnetGenerator`, `UnetSkipConnectionBlock`, `NLayerDiscriminator`),
sized from the resolution instead of fixed at 256×256.

G is a U-Net: an encoder of 4×4 stride-2 convolutions down to 1×1 and a mirrored decoder of
transposed convolutions, with each encoder level's features concatenated onto the decoder level
of the same size. Translation tasks keep most of the input's low-level structure (edges,
layout), and the skips carry it straight across instead of squeezing it through the bottleneck.
There is no z: as the paper reports, G learns to ignore noise fed as an input, so the only noise
is dropout, kept on in the innermost decoder layers.

D is a PatchGAN: a small fully convolutional net whose every output scores one overlapping
patch (70×70 at the default depth) as real or fake. The L1 term of the pix2pix loss already
gets the low frequencies right; D only has to judge local texture and sharpness, which a
patch-wise D does with fewer parameters and on any image size.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.models import d_width, log2_side, register_model


def pix2pix_init(module: nn.Module) -> None:
    """The official repo's `init_weights(init_type="normal", init_gain=0.02)`: conv weights
    N(0, 0.02) and biases 0, batch-norm scale N(1, 0.02) and shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def unet_levels(resolution: int) -> int:
    """log2(resolution): the number of stride-2 down-samplings that take the image to 1×1."""
    return log2_side(resolution, "pix2pix")


class UNetSkipBlock(nn.Module):
    """One U-Net level around the `inner` levels below it (the official
    `UnetSkipConnectionBlock`): down = [LeakyReLU(0.2), conv 4×4/2, BN]; up = [ReLU,
    transposed conv 4×4/2, BN, dropout?]; output = [input, up(inner(down(input)))] along channels.

    The outermost level has no activation or norm before its down conv (it sees the image) and
    ends with tanh instead of BN and returns no skip (its output is the image); the innermost
    level has no BN after its down conv (a 1×1 map) and no inner levels, so its up conv sees
    `inner_channels`, not twice that. Only the final up conv has a bias, as in the official code.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        inner: nn.Module | None = None,
        in_channels: int | None = None,
        outermost: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        innermost = inner is None
        in_channels = outer_channels if in_channels is None else in_channels
        down_conv = nn.Conv2d(in_channels, inner_channels, 4, 2, 1, bias=False)
        up_in = inner_channels if innermost else inner_channels * 2
        up_conv = nn.ConvTranspose2d(up_in, outer_channels, 4, 2, 1, bias=outermost)
        if outermost:
            down: list[nn.Module] = [down_conv]
            up: list[nn.Module] = [nn.ReLU(True), up_conv, nn.Tanh()]
        else:
            down = [nn.LeakyReLU(0.2), down_conv]
            if not innermost:
                down.append(nn.BatchNorm2d(inner_channels))
            up = [nn.ReLU(True), up_conv, nn.BatchNorm2d(outer_channels)]
            if dropout > 0:
                up.append(nn.Dropout(dropout))
        middle = [] if inner is None else [inner]
        self.model = nn.Sequential(*down, *middle, *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """The pix2pix U-Net (`UnetGenerator` in the official repo): N×in_channels×R×R input images
    → N×out_channels×R×R images in [-1, 1].

    log2(R) levels take the image down to 1×1 (8 at 256×256, the paper's U-Net-256); level i
    has width·min(2^i, 8) channels (64, 128, 256, 512, 512, … at width 64). Dropout (0.5, in
    train mode only; the paper keeps it at test time too, which a caller can do with `.train()`)
    follows the up-convolutions of the three innermost levels, the paper's first three decoder
    layers, which are all 8·width wide from 128×128 up. The official code instead skips the
    innermost level and uses the next log2(R) - 5 levels, which would leave G without any noise
    below 64×64; here the three innermost levels (or all but the outermost when there are fewer)
    always get it, narrower ones at small resolutions.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: int,
        width: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        levels = unet_levels(resolution)
        widths = [width * min(2**i, 8) for i in range(levels)]
        block: UNetSkipBlock | None = None
        for i in range(levels - 1, 0, -1):  # innermost first; level 0 is the outermost
            block = UNetSkipBlock(
                widths[i - 1], widths[i], block, dropout=dropout if i >= levels - 3 else 0.0
            )
        self.model = UNetSkipBlock(
            out_channels, widths[0], block, in_channels=in_channels, outermost=True
        )
        self.apply(pix2pix_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The pix2pix PatchGAN (`NLayerDiscriminator` in the official repo): N×in_channels×H×W
    (input and output images concatenated along channels by the caller) → N×P raw patch scores.

    Layers: conv 4×4/2 + LeakyReLU(0.2); n_layers - 1 convs 4×4/2 + BN + LeakyReLU doubling the
    width up to 8·width; conv 4×4/1 + BN + LeakyReLU; conv 4×4/1 to one channel, no sigmoid (each
    loss applies its own). With n_layers = 3 each output sees a 70×70 patch and a 256×256 pair
    gives 30×30 scores. The scores are returned flattened, not averaged: the losses take means
    over all elements, so each patch is judged real or fake on its own.

    Small inputs: with k stride-2 layers the map is H/2^k - 2 on a side (each 4×4/1 conv with
    padding 1 takes one off), so 3 of them leave 2×2 at 32×32 but nothing at 16×16. `forward`
    therefore uses stride 2 in only the first k = max{k ≤ n_layers : min(H, W)/2^k ≥ 4} of the
    n_layers down-sampling convs and runs the rest at stride 1 with size-keeping padding (1
    before, 2 after, zeros): the map is then at least 2×2 (16×16 → 2×2 from a 4×4 map, 8×8 → 2×2).
    The weights are the same whatever the input size, so one D (and one checkpoint) serves
    every resolution; inputs of 64×64 and up are unchanged from the official network.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        if n_layers < 1:
            raise GancliError(
                f"the PatchGAN needs at least one down-sampling layer, got n_layers={n_layers}"
            )
        self.n_layers = n_layers
        widths = [width * min(2**i, 8) for i in range(n_layers + 1)]
        # down[i]: conv 4×4/2 (+ BN) + LeakyReLU; its stride is chosen in `forward`.
        self.down = nn.ModuleList()
        for i in range(n_layers):
            c_in = in_channels if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [nn.Conv2d(c_in, widths[i], 4, 2, 1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(widths[i]))
            layers.append(nn.LeakyReLU(0.2, True))
            self.down.append(nn.Sequential(*layers))
        self.head = nn.Sequential(
            nn.Conv2d(widths[n_layers - 1], widths[n_layers], 4, 1, 1, bias=False),
            nn.BatchNorm2d(widths[n_layers]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(widths[n_layers], 1, 4, 1, 1),
        )
        self.apply(pix2pix_init)

    def strided_layers(self, side: int) -> int:
        """How many of the down-sampling convs use stride 2 for inputs whose shorter side is
        `side`: as many as leave a map of at least 4×4 before the two stride-1 convs."""
        if side < 4:
            raise GancliError(
                f"the PatchGAN needs images of at least 4×4, got a side of {side}: "
                "set data.resolution (e.g. 32)"
            )
        k = 0
        while k < self.n_layers and side >> (k + 1) >= 4:
            k += 1
        return k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.strided_layers(min(x.shape[-2:]))
        for i, layer in enumerate(self.down):
            if i < k:
                x = layer(x)
            else:  # stride 1 keeping the size: pad 1 before and 2 after for a 4×4 kernel
                block = cast(nn.Sequential, layer)  # each entry of `down`: a conv, then the rest
                conv = cast(nn.Conv2d, block[0])
                x = F.conv2d(F.pad(x, (1, 2, 1, 2)), conv.weight, conv.bias)
                for rest in block[1:]:
                    x = rest(x)
        return self.head(x).flatten(1)


class Pix2PixGenerator(nn.Module):
    """G(z, c) = U-Net(c): the training loop's conditional interface, with z ignored (the only
    noise is dropout, as in pix2pix)."""

    def __init__(self, unet: UNetGenerator) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.unet(c)


class PairDiscriminator(nn.Module):
    """D(x, c) = PatchGAN([c, x]): D judges the (input, output) pair, so an output that is
    realistic but does not fit its input is a fake too."""

    def __init__(self, patch: PatchDiscriminator) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.patch(torch.cat([c, x], dim=1))


@register_model("pix2pix")
def build_pix2pix(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """U-Net G and PatchGAN D for translating `info.cond_shape` inputs into `info.shape`
    images; only for image → image data (conditioning=image sets `cond_shape`, and
    `gancli.config.rules` refuses pix2pix without it)."""
    channels, height, _ = info.shape
    if info.cond_shape is None:  # `gancli.config.rules` refuses this before data is read
        raise GancliError("model=pix2pix translates images: use it with conditioning=image")
    c_in = info.cond_shape[0]
    return (
        Pix2PixGenerator(UNetGenerator(c_in, channels, height, cfg.width)),
        PairDiscriminator(PatchDiscriminator(c_in + channels, d_width(cfg))),
    )
