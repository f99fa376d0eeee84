"""Files users keep: every write is atomic (a temporary file in the same folder, then a rename),
so a crash or Ctrl-C mid-write never leaves a truncated checkpoint or picture behind.

It also holds the one conversion between the model's images and 8-bit pixels, both ways.
Generator output and datasets are floats in [-1, 1]; files and evaluation hold uint8 pixels.
Everything written to disk and everything evaluation scores goes through `quantize`, so a sample
scores the same whether it came straight from G or back from a PNG or `.npz`; `pixels_to_unit`
is its inverse for the networks that read pixels back (the evaluation classifier, translation
scores). Samples files are read back here too (`read_samples`, for `gancli eval samples=`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.utils import make_grid, save_image

from gancli.errors import GancliError

# Grid cells are enlarged (nearest neighbour) to at least this many pixels so 8×8 or 16×16
# samples are visible to a person; the .npz and per-sample PNGs keep the native size.
MIN_CELL = 64


class WriteFailed(GancliError, OSError):
    """A file could not be written (no such folder, no permission, disk full): one line naming
    it. Still an `OSError`, so callers that tolerate a failed write (the cache) catch it."""


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call `write` on a temporary file beside `path`, fsync it, then rename it over `path`
    (what `write` returns, such as a byte count, is ignored).
    An OS error leaves whatever `path` held untouched and raises `WriteFailed`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise WriteFailed(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1], N×C×H×W → uint8 N×C×H×W pixels (on the CPU)."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def pixels_to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels → floats in [-1, 1]: `quantize(pixels_to_unit(p))` is `p` again."""
    return pixels.to(torch.float32, copy=True).div_(127.5).sub_(1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """`quantize`d images as a numpy array N×H×W×C, the layout image files and `.npz` use."""
    return quantize(images).permute(0, 2, 3, 1).numpy()


def grid_image(images: torch.Tensor, nrow: int | None = None) -> torch.Tensor:
    """A grid of [-1, 1] images as one [0, 1] C×H×W tensor, cells enlarged to `MIN_CELL`."""
    scale = max(1, math.ceil(MIN_CELL / images.shape[-1]))
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2
    if scale > 1:
        x = F.interpolate(x, scale_factor=scale, mode="nearest")
    return make_grid(x, nrow=nrow or math.ceil(math.sqrt(len(x))), padding=2, pad_value=1.0)


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """One PNG grid of [-1, 1] images."""
    grid = grid_image(images, nrow)
    return atomic_write(path, lambda f: save_image(grid, f, format="png"))


def save_image_folder(images: torch.Tensor, folder: str | Path, first: int = 0) -> Path:
    """One PNG per image, `000000.png`, ..., at native size (lossless, for evaluation);
    numbered from `first` (a chunk of a larger set)."""
    from PIL import Image

    folder = Path(folder)
    for i, pixels in enumerate(to_uint8(images), first):
        img = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        atomic_write(folder / f"{i:06d}.png", partial(img.save, format="PNG"))
    return folder


def save_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Arrays in one `.npz`."""
    # numpy's stub lets `**arrays` fill `allow_pickle`, which no caller names.
    return atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def save_scatter(
    points: torch.Tensor, real: torch.Tensor, path: str | Path, title: str = ""
) -> Path:
    """2D samples (red) over real data (grey), same axes for every picture of one dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fake = points.detach().float().cpu().numpy()
    ref = real.detach().float().cpu().numpy()
    lim = float(np.abs(ref).max()) * 1.25
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.7", label="real", rasterized=True)
    ax.scatter(
        fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.6, label="generated", rasterized=True
    )
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)


def read_samples(path: str) -> torch.Tensor:
    """Samples from an `.npz` (`images` uint8 N×H×W×C, or `points` N×2) or a folder of PNGs:
    uint8 N×C×H×W pixels or float N×2 points."""
    p = Path(path).expanduser()
    if p.suffix == ".npz" and p.is_file():
        try:
            with np.load(p, allow_pickle=False) as f:
                if "points" in f:
                    return torch.as_tensor(f["points"], dtype=torch.float32)
                if "images" not in f:
                    raise GancliError(
                        f"{p} has neither 'images' (uint8 N×H×W×C) nor 'points' "
                        f"(N×2) arrays; it has: {', '.join(f.files) or 'nothing'}"
                    )
                images = f["images"]
        except GancliError:
            raise
        except Exception as err:  # truncated zip, object arrays (pickles are never loaded), ...
            raise GancliError(
                f"{p} is not a readable samples file ({str(err).splitlines()[0]}); "
                "write one with gancli sample out=FILE.npz"
            ) from None
        if images.dtype != np.uint8 or images.ndim != 4:
            raise GancliError(
                f"{p}: 'images' must be uint8 N×H×W×C, got {images.dtype} with shape {images.shape}"
            )
        return torch.as_tensor(images).permute(0, 3, 1, 2).contiguous()
    if p.is_dir():
        return read_png_folder(p)
    raise GancliError(
        f"samples={path} is neither an .npz file nor a folder of PNGs "
        "(gancli sample out=FILE.npz or out=FOLDER writes both)"
    )


def read_png_folder(folder: Path) -> torch.Tensor:
    """Every PNG in `folder`, sorted by name, as uint8 N×C×H×W (grey images give C = 1)."""
    from PIL import Image

    files = sorted(folder.glob("*.png"))
    lossy = sorted(f.name for f in folder.iterdir() if f.suffix.lower() in {".jpg", ".jpeg"})
    if lossy:
        raise GancliError(
            f"{folder} holds JPEG files ({lossy[0]}, ...): JPEG compression moves "
            "FID by itself; write samples as PNG (gancli sample out=FOLDER)"
        )
    if not files:
        raise GancliError(f"no .png files in {folder}")
    arrays = []
    for f in files:
        try:
            with Image.open(f) as img:
                grey = img.mode in {"1", "L", "LA", "I", "I;16"}
                arr = np.asarray(img.convert("L" if grey else "RGB"))
        except OSError as err:  # PIL's UnidentifiedImageError and truncated files
            raise GancliError(
                f"{f} is not a readable PNG ({str(err).splitlines()[0]}); "
                "remove it or write the samples again"
            ) from None
        arrays.append(arr[..., None] if arr.ndim == 2 else arr)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise GancliError(
            f"images in {folder} differ in size or channels ({sorted(shapes)[:3]}); "
            "evaluate one resolution at a time"
        )
    return torch.as_tensor(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
