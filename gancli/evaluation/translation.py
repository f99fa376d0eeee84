"""Paired scores for image-to-image translation: how close G's outputs are to the targets.

pix2pix-style work reports per-pixel error alongside realism (FID): L1, PSNR and SSIM between
each output and its own target. Both image sets go through `gancli.files.quantize` first, the
one conversion to 8-bit pixels that evaluation uses, so the scores of outputs straight from G
equal those of the same outputs saved as PNGs; pixels are then scaled to [0, 1] (data range 1).
PSNR and SSIM come from torchmetrics rather than hand-written code.

- `l1`: mean absolute error over all pixels and channels, in [0, 1] (lower is better).
- `psnr`: the mean over images of each image's PSNR in dB, the figure papers report (a
  PSNR of the pooled MSE would weight badly reconstructed images differently). An image equal
  to its target has infinite PSNR; each image's value is capped at `PSNR_CAP` dB so that one
  perfect image cannot make the mean infinite. Distinct 8-bit images stay below the cap up to
  128×128 RGB: one value off by one level is the smallest difference, 48.1 + 10·log10(C·H·W)
  dB (83 dB at 32×32, 95 dB at 128×128).
- `ssim`: the mean over images of each image's SSIM (Gaussian window, σ = 1.5, 11×11, as in
  Wang et al. 2004). Images smaller than 11 pixels on a side get the largest odd window that
  fits, with σ scaled to match (σ = 1.5·k/11, e.g. 7×7 and σ ≈ 0.95 for 8×8), because
  torchmetrics derives the window size from σ and needs it no larger than the image.

Images are scored `BATCH` at a time to bound memory; per-image values are summed and the sums
divided once at the end, so the result does not depend on the batch size.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from gancli.errors import GancliError
from gancli.files import quantize

#: Images scored per batch.
BATCH = 500
#: Per-image PSNR ceiling in dB (identical images would otherwise score infinity).
PSNR_CAP = 100.0
#: SSIM's standard Gaussian window: 11×11, σ = 1.5.
SSIM_KERNEL, SSIM_SIGMA = 11, 1.5


def ssim_window(height: int, width: int) -> tuple[int, float]:
    """The SSIM window (odd side, σ) for images of this size: the standard 11×11 with σ = 1.5,
    or the largest odd side that fits with σ scaled down in proportion."""
    side = min(SSIM_KERNEL, height, width)
    side -= 1 - side % 2  # the largest odd number not above it
    if side < 3:
        raise GancliError(f"translation scores need images of at least 3×3, got {height}×{width}")
    return side, SSIM_SIGMA * side / SSIM_KERNEL


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images → the 8-bit pixels saved PNGs hold, as floats in [0, 1]."""
    return quantize(images).float() / 255.0


def translation_scores(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """L1, PSNR (dB) and SSIM of `output` against `target`, both [-1, 1] images N×C×H×W paired
    row for row (see the module docstring for how each is computed and averaged)."""
    if output.shape != target.shape or output.dim() != 4 or len(output) == 0:
        raise GancliError(
            f"translation scores need outputs and targets of one N×C×H×W shape, "
            f"got {tuple(output.shape)} and {tuple(target.shape)}"
        )
    kernel, sigma = ssim_window(*output.shape[-2:])
    l1 = psnr = ssim = 0.0
    for start in range(0, len(output), BATCH):
        out = to_unit(output[start : start + BATCH])
        tgt = to_unit(target[start : start + BATCH])
        l1 += (out - tgt).abs().mean(dim=(1, 2, 3)).sum().item()
        per_image = peak_signal_noise_ratio(
            out, tgt, data_range=1.0, reduction="none", dim=(1, 2, 3)
        )
        psnr += per_image.clamp(max=PSNR_CAP).sum().item()
        similarity = structural_similarity_index_measure(
            out, tgt, data_range=1.0, sigma=sigma, kernel_size=kernel, reduction="none"
        )
        # A tensor: torchmetrics returns a tuple only with return_full_image, not set here.
        ssim += similarity.sum().item()  # type: ignore[union-attr]
    n = len(output)
    return {"l1": l1 / n, "psnr": psnr / n, "ssim": ssim / n}
