"""Image-to-image tasks derived from any image dataset: `conditioning.task=<name>`.

pix2pix (Isola et al. 2017) learns a map from input images to target images and needs pairs of
them. Real paired datasets (`data=paired_folder`) are rare, but several standard pix2pix-style
tasks have an input that is a fixed, known degradation of the target, so every image dataset
gives pairs for free: the dataset's images are the targets and a task function computes the
inputs from them.

- `inpaint`: fill the centre square back in (context encoders; pix2pix's "paris street view").
- `colorize`: grey → colour (pix2pix's colourisation experiment).
- `superres`: ×4 blurred/low-resolution → sharp (super-resolution).
- `edges`: edge map → image (pix2pix's edges2shoes / edges2handbags).

A task is a function `(targets, data_name=None) -> inputs`: targets are float images in
[-1, 1], N×C×H×W, on any device; the inputs come back in [-1, 1], same N, H and W, on the same
device and dtype. Tasks are deterministic and vectorised (no randomness, no per-image loop), so
the same target always gets the same input and a batch costs one pass. `data_name` only
improves error messages (`data=cifar10 has ...` instead of `this dataset has ...`).
"""

from __future__ import annotations

import functools
from typing import Protocol

import torch
import torch.nn.functional as F

from gancli.errors import GancliError
from gancli.registry import Registry

#: ITU-R BT.601 luma weights for R, G, B (the ones PIL's `convert("L")` uses).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
#: Super-resolution factor: inputs carry one value per 4×4 block of the target.
SUPERRES_FACTOR = 4


class Task(Protocol):
    def __call__(self, targets: torch.Tensor, data_name: str | None = None) -> torch.Tensor: ...


TASKS: Registry[Task] = Registry("task")
#: Tasks whose input is one grey channel whatever the targets' channels.
GREY_INPUT = frozenset({"colorize", "edges"})


def _dataset(data_name: str | None) -> str:
    return f"data={data_name}" if data_name else "this dataset"


def luminance(images: torch.Tensor, task: str, data_name: str | None = None) -> torch.Tensor:
    """N×1×H×W luma of N×C×H×W images: the 601 weighted sum for RGB, the image itself for grey.

    The weights sum to 1, so the weighted sum of [-1, 1] values is the luma of the [0, 1]
    image mapped to [-1, 1] in the same way: no range conversion is needed."""
    channels = images.shape[1]
    if channels == 1:
        return images
    if channels != 3:
        raise GancliError(
            f"conditioning.task={task} needs grey (1 channel) or RGB (3 channel) "
            f"images; {_dataset(data_name)} has {channels} channels"
        )
    return (images * _luma_weights(images.device, images.dtype)).sum(1, keepdim=True)


@functools.cache
def _luma_weights(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """`LUMA_WEIGHTS` as 1×3×1×1, built once per device and dtype: a tensor made from Python
    numbers on a GPU is a host→device copy, which each batch would otherwise wait for."""
    with torch.inference_mode(False):  # usable outside inference mode if first made inside it
        return torch.tensor(LUMA_WEIGHTS, dtype=dtype, device=device).view(1, 3, 1, 1)


@functools.cache
def _sobel_kernels(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Sobel's d/dx and d/dy kernels, 2×1×3×3, built once per device and dtype (as
    `_luma_weights`)."""
    with torch.inference_mode(False):
        sobel_x = torch.tensor(
            [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=dtype, device=device
        )
        return torch.stack([sobel_x, sobel_x.T]).unsqueeze(1)


@TASKS.register("inpaint")
def inpaint(targets: torch.Tensor, data_name: str | None = None) -> torch.Tensor:
    """The target with its centre hole filled with 0, mid-grey in [-1, 1]: rows and columns
    [side//4, side//4 + side//2), a square of half the side (16×16 of 32×32)."""
    h, w = targets.shape[-2:]
    inputs = targets.clone()
    inputs[..., h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = 0
    return inputs


@TASKS.register("colorize")
def colorize(targets: torch.Tensor, data_name: str | None = None) -> torch.Tensor:
    """The target's 601 luma as one channel; the generator puts the colour back."""
    channels = targets.shape[1]
    if channels != 3:
        raise GancliError(
            f"conditioning.task=colorize needs colour images (3 channels); "
            f"{_dataset(data_name)} has {channels}: use data=cifar10 or "
            "data=folder, or another task (inpaint, superres, edges)"
        )
    return luminance(targets, "colorize", data_name)


@TASKS.register("superres")
def superres(targets: torch.Tensor, data_name: str | None = None) -> torch.Tensor:
    """The target averaged over 4×4 blocks (area down-sampling, no aliasing) and bilinearly
    up-sampled back to H×W (align_corners=False): the generator's input and output keep one size,
    as the U-Net needs, and the input carries a quarter of the resolution per side."""
    h, w = targets.shape[-2:]
    if h % SUPERRES_FACTOR or w % SUPERRES_FACTOR:
        raise GancliError(
            f"conditioning.task=superres needs an image side divisible by "
            f"{SUPERRES_FACTOR}, got {h}×{w}: set data.resolution (e.g. 32)"
        )
    small = F.avg_pool2d(targets, SUPERRES_FACTOR)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp_(-1, 1)


@TASKS.register("edges")
def edges(targets: torch.Tensor, data_name: str | None = None) -> torch.Tensor:
    """An edge map: the Sobel gradient magnitude of the luma (replicate padding, so the image
    border is not an edge), divided by each image's largest magnitude and mapped to [-1, 1] with
    edges bright (1) and flat regions dark (-1); an image with no edges is all -1.

    pix2pix's edge maps come from HED and are binarised; a soft Sobel map is computed in one
    convolution on any device and keeps edge strength, which is more for the generator to go
    on. A step between two pixels lights both of them (a two-pixel-wide line): thin enough at
    the resolutions here, so there is no non-maximum suppression or threshold."""
    luma = luminance(targets, "edges", data_name)
    kernels = _sobel_kernels(targets.device, targets.dtype)
    grad = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = grad.square().sum(1, keepdim=True).sqrt()
    # Edges from 8-bit images are at least ~0.008; the floor only stops 0/0 on flat images.
    peak = magnitude.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return (magnitude / peak).mul_(2).sub_(1)


def make_inputs(
    task_name: str, targets: torch.Tensor, data_name: str | None = None
) -> torch.Tensor:
    """The inputs task `task_name` derives from `targets` (a one-line error for unknown names)."""
    return TASKS.lookup(task_name)(targets, data_name)


def input_channels(task_name: str, target_channels: int) -> int:
    """Channels of the inputs task `task_name` makes from targets with `target_channels`:
    1 for the grey-input tasks (colorize, edges), otherwise the targets' own."""
    TASKS.lookup(task_name)
    return 1 if task_name in GREY_INPUT else target_channels
