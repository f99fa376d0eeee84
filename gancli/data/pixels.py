"""The one conversion between the model's images and 8-bit pixels, both ways.

Generator output and datasets are floats in [-1, 1]; files and evaluation hold uint8 pixels.
Everything written to disk and everything evaluation scores goes through `quantize`, so a
sample scores the same whether it came straight from G or back from a PNG or `.npz`;
`pixels_to_unit` is its inverse for the networks that read pixels back (the evaluation
classifier, translation scores).
"""

from __future__ import annotations

import torch


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1], N×C×H×W → uint8 N×C×H×W pixels (on the CPU)."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def pixels_to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels → floats in [-1, 1]: `quantize(pixels_to_unit(p))` is `p` again."""
    return pixels.float() / 127.5 - 1
