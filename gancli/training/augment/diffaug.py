"""Differentiable augmentation of everything D sees (DiffAugment, Zhao et al. 2020):
`augment=diffaug`.

Augmenting real and generated images alike, with operations G's gradients flow through, keeps D
from memorising a small training set without teaching G to produce augmented images. The three
policies follow the authors' reference implementation (mit-han-lab/data-efficient-gans,
`DiffAugment_pytorch.py`); they are written out here because no maintained library ships
DiffAugment's exact operations and ranges. A new policy is one registered function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from gancli.registry import Registry
from gancli.training.augment import Augment, register_augment

POLICIES: Registry[Augment] = Registry("DiffAugment policy (augment.policy)")


def _per_image(x: torch.Tensor) -> torch.Tensor:
    """One uniform [0, 1) number per image, shaped to broadcast over C×H×W."""
    return torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device)


def _brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_per_image(x) - 0.5)


def _saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_per_image(x) * 2) + mean


def _contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_per_image(x) + 0.5) + mean


@POLICIES.register("color")
def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation and contrast per image."""
    return _contrast(_saturation(_brightness(x)))


@POLICIES.register("translation")
def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size, filling with zeros. The reference gathers
    from a channels-last copy and permutes back, which leaves the images with channels-last
    strides; D's convolutions then see another layout than their weights', and compiled
    backward passes on CUDA fail (inductor predicts other strides for the weight gradient than
    cuDNN makes). Indexing all four dimensions gives the same pixels in `x`'s own layout."""
    n, c, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, size=(n, 1, 1), device=x.device)
    ty = torch.randint(-sy, sy + 1, size=(n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    gx = torch.clamp(rows + tx + 1, 0, h + 1).unsqueeze(1)  # n×1×h×1, into the padded image
    gy = torch.clamp(cols + ty + 1, 0, w + 1).unsqueeze(1)  # n×1×1×w
    gb = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    gc = torch.arange(c, device=x.device).view(1, c, 1, 1)
    moved = F.pad(x, [1, 1, 1, 1])[gb, gc, gx, gy]
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return moved.contiguous(memory_format=torch.channels_last)
    return moved


@POLICIES.register("cutout")
def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of `ratio` of the image's side per image. The reference writes
    the square's clamped pixel indices into a mask (`mask[b, x, y] = 0`), an index_put that
    waits for the GPU; comparing each pixel's row and column with the square's edges gives the
    same mask without waiting (the square always overlaps the image, so clamping its indices
    to the border only repeats pixels already inside it)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), size=(n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), size=(n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


@register_augment("diffaug")
def diff_augment(cfg: DictConfig) -> Augment:
    """The composition of the policies `cfg.policy` names, applied in order; an unknown name
    fails here, before training starts."""
    policy = [POLICIES.lookup(name) for name in cfg.policy]

    def apply(x: torch.Tensor) -> torch.Tensor:
        for op in policy:
            x = op(x)
        return x

    return apply
