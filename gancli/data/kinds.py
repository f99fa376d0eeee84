"""What differs between kinds of data (`DataInfo.kind`) when samples are shown or written:
images become grids, uint8 arrays and PNG files; 2D points become scatter plots over the real
data, with the VEEGAN/PacGAN mode scores, and float arrays. What evaluation needs of a kind is
here too: what a generated batch is scored as, which samples it accepts, whether a feature space
compares them with real data or they are scored alone. The training loop, `gancli sample` and
`gancli.evaluation` call these objects and never ask which kind they hold; a new kind of data is
one registered subclass of `DataKind`."""

from __future__ import annotations

import itertools
import math
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import torch
from PIL import Image

from gancli.data import DataInfo
from gancli.data.points import score_mixture
from gancli.data.store.format import folder_writer
from gancli.errors import GancliError
from gancli.files import (
    MIN_CELL,
    atomic_write,
    quantize,
    save_image_folder,
    save_image_grid,
    save_scatter,
    to_uint8,
)
from gancli.registry import Registry

#: The picture of a set of samples: the images of the grid and its row length (what
#: `Conditioning.picture` returns: the samples themselves, or inputs beside outputs).
Grid = tuple[torch.Tensor, int | None]

DATA_KINDS: Registry[type[DataKind]] = Registry("kind of data")
#: Class decorator: make a class handle the data whose `DataInfo.kind` is `<name>`.
register_kind = DATA_KINDS.register


class DataKind:
    """How samples of one kind of data are shown and written.

    `real(n)` returns at most `n` training items spread through the set (`TensorData.spread`),
    for what compares samples with real data; it is called only when a picture needs them, so
    `gancli sample` loads no data for images. Evaluation draws no pictures and gives none."""

    #: Samples per training picture when `train.sample_n` is not set.
    preview_n: int
    #: Whether `sample.interpolate` can show walks through G's latent space (as a grid).
    interpolates: bool
    #: Whether `train.channels_last` applies (NHWC layout of 4D image batches).
    has_layout: bool
    #: Whether `train.precision=auto` may train it in bf16 (its values survive 3 significant
    #: digits).
    reduced_precision: bool
    #: What the samples are, in messages.
    noun: str
    #: Whether evaluation scores the samples as uint8 pixels in a feature space, against a real
    #: split; otherwise they are scored alone, by the metrics that can (`Metric.raw`), against
    #: the data's own geometry (`score_modes`).
    pixels: bool

    def __init__(self, info: DataInfo, real: Callable[[int], torch.Tensor] | None = None) -> None:
        self.info, self.real = info, real or no_real

    def preview(self, x: torch.Tensor, grid: Grid, path: Path, step: int) -> dict[str, float]:
        """Write the training picture of samples `x` at `step` (`grid`: its images and row
        length); returns the scores it measured on them, for metrics.jsonl."""
        raise NotImplementedError

    def write(
        self, chunks: Iterable[torch.Tensor], n: int, out: Path, arrays: dict[str, np.ndarray]
    ) -> Path:
        """Write the `n` samples that `chunks` yields, one chunk at a time, so that any `n`
        fits in memory: as `.npz` (the samples plus `arrays`, e.g. their labels) or a folder of
        files, as `out` names (`out_format`). A picture holds them all at once: `picture`."""
        if out_format(out) == "npz":
            return atomic_write(out, lambda f: write_npz(f, map(self.arrays, chunks), n, arrays))
        return self.folder(chunks, out)

    def arrays(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """The samples as the `.npz` array evaluation reads (one array)."""
        raise NotImplementedError

    def check_picture(self, n: int) -> None:
        """Refuse, before any sample is drawn, a picture of `n` samples that could not be
        written or opened (the kinds whose pictures grow with `n`)."""

    def picture(self, x: torch.Tensor, grid: Grid, out: Path) -> Path:
        """The samples as one PNG."""
        raise NotImplementedError

    def folder(self, chunks: Iterable[torch.Tensor], out: Path) -> Path:
        """The samples as a folder of files, written chunk by chunk into a hidden folder that
        replaces `out` at the end."""
        raise NotImplementedError

    # -- what evaluation asks ------------------------------------------------------------------

    def scored(self, x: torch.Tensor) -> torch.Tensor:
        """A generated batch as evaluation scores it."""
        return x

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Refuse samples of one item shape `shape` that this data cannot score against, before
        any work."""

    def check_scored(self, samples: torch.Tensor) -> None:
        """Refuse samples handed to evaluation that are not as `scored` makes them."""

    def check_file(self, samples: torch.Tensor, path: str) -> None:
        """Refuse samples read from `path` (`gancli eval samples=`) that are not this kind's,
        before any work."""
        pixels = samples.dtype == torch.uint8
        if pixels != self.pixels:
            held = next(kind.noun for kind in DATA_KINDS.values() if kind.pixels == pixels)
            raise GancliError(
                f"samples={path} hold {held} but data={self.info.name} is "
                f"{self.noun}: pick the dataset they came from"
            )
        self.check_shape(tuple(samples.shape[1:]))

    def score_modes(self, samples: torch.Tensor) -> dict[str, float | int]:
        """The mode scores of samples scored alone (`pixels` false), against the data's
        geometry."""
        raise NotImplementedError


def no_real(n: int) -> torch.Tensor:
    """`real` of a kind built without real items (for evaluation, which draws no pictures)."""
    raise ValueError("this DataKind was built without real items: data_kind(info, real)")


def out_format(out: Path) -> Literal["npz", "png", "folder"]:
    """What `gancli sample out=...` writes, from the name: `.npz` arrays, a `.png` picture,
    or a folder (no suffix, or an existing folder)."""
    if out.suffix in (".npz", ".png"):
        return out.suffix[1:]  # type: ignore[return-value]
    if out.suffix == "" or out.is_dir():
        return "folder"
    raise GancliError(
        f"cannot write samples as '{out.suffix}': use out=FILE.png (grid), "
        "out=FILE.npz (arrays) or out=FOLDER (one PNG per sample); "
        "JPEG is not offered since it distorts evaluation"
    )


def write_npz(
    f: BinaryIO, chunks: Iterator[dict[str, np.ndarray]], n: int, arrays: dict[str, np.ndarray]
) -> None:
    """An `.npz` as `np.savez` writes it (a zip of `.npy` files), whose first array has `n`
    rows that arrive in `chunks` (dicts of that one array): each chunk is written as it comes,
    so the whole array is never in memory. `arrays` follow, whole."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        first = next(chunks)
        ((name, rows),) = first.items()
        header = {
            "descr": np.lib.format.dtype_to_descr(rows.dtype),
            "fortran_order": False,
            "shape": (n, *rows.shape[1:]),
        }
        written = 0
        with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            for chunk in itertools.chain([first], chunks):
                member.write(np.ascontiguousarray(chunk[name]).tobytes())
                written += len(chunk[name])
        if written != n:  # the header announced n rows
            raise ValueError(f"{name}: {written} rows written, {n} announced")
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def diversity(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance of samples: how different from each other they are."""
    return float(torch.pdist(x.detach().cpu().float().flatten(1)).mean())


@register_kind("image")
class ImageKind(DataKind):
    """Images in [-1, 1]: grids, uint8 N×H×W×C arrays, one PNG per sample. Their training
    pictures record `preview_diversity`: the samples' diversity over that of `REAL_N` real
    images, near 1 for a healthy G, near 0 when G draws one image whatever its latent (mode
    collapse, which the `mode_collapse` alert watches)."""

    preview_n = 64
    interpolates = True
    has_layout = True
    reduced_precision = True
    noun = "images"
    pixels = True
    REAL_N = 256

    def __init__(self, info: DataInfo, real: Callable[[int], torch.Tensor] | None = None) -> None:
        super().__init__(info, real)
        self._real_diversity: float | None = None

    def preview(self, x: torch.Tensor, grid: Grid, path: Path, step: int) -> dict[str, float]:
        self.picture(x, grid, path)
        if len(x) < 2:
            return {}
        if self._real_diversity is None:
            self._real_diversity = diversity(self.real(self.REAL_N))
        return {"preview_diversity": diversity(x) / max(self._real_diversity, 1e-12)}

    def arrays(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        return {"images": to_uint8(x)}

    def check_picture(self, n: int) -> None:
        """A grid's cells are enlarged to `MIN_CELL` pixels and padded by 2 (`grid_image`); one
        beyond PIL's limit (`Image.MAX_IMAGE_PIXELS`, 89M pixels) would not open again."""
        side = self.info.shape[-1]
        cell = side * max(1, math.ceil(MIN_CELL / side)) + 2
        limit = Image.MAX_IMAGE_PIXELS or math.inf
        if n * cell * cell > limit:
            raise GancliError(
                f"n={n} samples make a grid of {n * cell * cell / 1e6:.0f}M pixels, more than "
                f"image viewers open ({limit / 1e6:.0f}M): give n={int(limit // cell**2)} or "
                "less for out=FILE.png, or write any n to out=FOLDER/ or out=FILE.npz"
            )

    def picture(self, x: torch.Tensor, grid: Grid, out: Path) -> Path:
        return save_image_grid(grid[0], out, grid[1])

    def folder(self, chunks: Iterable[torch.Tensor], out: Path) -> Path:
        with folder_writer(out, "the samples") as tmp:
            first = 0
            for x in chunks:
                save_image_folder(x, tmp, first)
                first += len(x)
        return out

    def scored(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels: the same conversion a PNG gets, so that samples scored in training and
        samples written and scored later score alike."""
        return quantize(x)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Samples and the dataset must agree on channels and resolution (a classifier trained
        for samples it cannot score otherwise)."""
        if tuple(shape) != tuple(self.info.shape):
            raise GancliError(
                f"samples are {'×'.join(map(str, shape))} (C×H×W) but {self.info.name} here is "
                f"{'×'.join(map(str, self.info.shape))}: set data.resolution (and data=) to "
                "what the samples were generated at"
            )

    def check_scored(self, samples: torch.Tensor) -> None:
        if samples.dtype != torch.uint8:
            raise TypeError("image samples must be uint8 pixels (gancli.files.quantize)")
        self.check_shape(tuple(samples.shape[1:]))


@register_kind("points")
class PointsKind(DataKind):
    """2D points: scatter plots over (5,000 of) the real points, float arrays. Their
    training pictures show 2,500 points, the VEEGAN/PacGAN protocol's count, and record that
    protocol's mode scores."""

    preview_n = 2500
    interpolates = False
    has_layout = False
    # bf16 spaces values 0.016 apart near 2: coarser than ring8's modes (std 0.02).
    reduced_precision = False
    noun = "2D points"
    pixels = False

    def preview(self, x: torch.Tensor, grid: Grid, path: Path, step: int) -> dict[str, float]:
        score = score_mixture(x, self.info.name)
        self._scatter(
            x,
            path,
            f"{self.info.name}, step {step}: {score.modes_captured}/"
            f"{score.modes_total} modes, HQ fraction "
            f"{score.hq_fraction:.3f}",
        )
        return score.to_dict()

    def arrays(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        return {"points": x.numpy().astype("float32")}

    def picture(self, x: torch.Tensor, grid: Grid, out: Path) -> Path:
        return self._scatter(x, out, f"{self.info.name}: {len(x)} samples")

    def folder(self, chunks: Iterable[torch.Tensor], out: Path) -> Path:
        raise GancliError(
            f"2D point samples cannot be written as a folder of images: "
            f"give out=FILE.png (scatter plot) or out=FILE.npz, not {out}"
        )

    def _scatter(self, x: torch.Tensor, path: Path, title: str) -> Path:
        return save_scatter(x, self.real(5000), path, title)

    def score_modes(self, samples: torch.Tensor) -> dict[str, float | int]:
        """The VEEGAN/PacGAN protocol against the mixture's modes (`gancli.data.points`)."""
        return score_mixture(samples, self.info.name).to_dict()


def data_kind(info: DataInfo, real: Callable[[int], torch.Tensor] | None = None) -> DataKind:
    """The object for `info.kind`; `real` returns the training items (see `DataKind`), for the
    kinds' pictures."""
    return DATA_KINDS.lookup(info.kind)(info, real)
