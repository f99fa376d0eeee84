"""Image files → uint8 rows of one size and channel count, decoded in worker processes.

What `data=folder` and `data=paired_folder` share. PIL does the image work: `decode` converts
any mode to grey or RGB (alpha composited on black, palettes expanded, 16-bit scaled to 8),
makes a non-square image square as `data.fit` says, and resizes it. `Decoder` runs `decode` over
a dataset's items in order, in chunks, in a pool of processes (decoding is CPU-bound, and PIL
holds the GIL while it decodes); `Rows` writes what comes back into a `PreparedWriter` chunk by
chunk, so memory holds a few chunks whatever the size of the dataset. A file PIL cannot decode is
skipped and named in the summary (or, with `strict`, stops the prepare).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import struct
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeGuard

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gancli.config.schemas import Fit
from gancli.data.store.format import PreparedWriter, SplitWriter
from gancli.data.store.sources import Progress, Summary
from gancli.errors import GancliError

log = logging.getLogger("gancli.data")

MODES = {1: "L", 3: "RGB"}
# PIL's modes of 16-bit grey images (PNG opens as I;16, some TIFF-like files as I).
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
RESAMPLE = Image.Resampling.BILINEAR  # antialiased when shrinking, as torchvision's resize
# What PIL raises for a file it cannot decode (truncated, damaged, not an image at all); anything
# else is a bug, not a bad file, and keeps its traceback.
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    zipfile.BadZipFile,
)
# Items per chunk sent to a worker, at most, and the bytes of decoded rows a chunk aims at.
CHUNK = 64
CHUNK_BYTES = 8 << 20
# Datasets of at most this many items are decoded in this process (a pool costs more).
FEW = 256


@dataclass(frozen=True)
class Settings:
    """What decoding makes of every image: its side (None: native size), channels and fit."""

    resolution: int | None
    channels: int = 3
    fit: Fit = Fit.crop


@dataclass(frozen=True)
class Decoded:
    """One decoded image (uint8 H×W×C) and what was done to it, for the summary."""

    pixels: np.ndarray
    converted: bool
    cropped: bool
    resized: bool


@dataclass(frozen=True)
class Failed:
    """An item that could not be decoded: the file and a short reason."""

    file: str
    why: str


def to_mode(im: Image.Image, mode: str) -> tuple[Image.Image, bool]:
    """`im` in `mode` ("L" or "RGB"), and whether it had to be converted. Transparency is
    composited on black; 16-bit values are scaled to 8 bits (65535 → 255), not clipped."""
    if im.mode == mode:
        return im, False
    if im.mode in SIXTEEN_BIT:
        grey = np.asarray(im, dtype=np.float64) / 257  # PIL's own I;16 → L conversion clips
        return Image.fromarray(grey.round().clip(0, 255).astype(np.uint8)).convert(mode), True
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if "A" in im.getbands() or im.mode in ("RGBa", "La"):
        im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im.convert("RGBA"))
    return im.convert(mode), True


def to_square(im: Image.Image, resolution: int | None, fit: Fit) -> tuple[Image.Image, bool, bool]:
    """`im` as a `resolution`-sided square (None: as it is), and whether it was made square and
    whether it was resized. crop: shorter side to `resolution`, centre square; pad: longer side
    to `resolution`, black borders; stretch: both sides to `resolution`."""
    w, h = im.size
    if resolution is None:
        return im, False, False
    size = (resolution, resolution)
    if size == (w, h):
        return im, False, False
    if w == h:
        return im.resize(size, RESAMPLE), False, True
    if fit is Fit.crop:
        return ImageOps.fit(im, size, RESAMPLE), True, min(w, h) != resolution
    if fit is Fit.pad:
        return ImageOps.pad(im, size, RESAMPLE, color=0), True, max(w, h) != resolution
    return im.resize(size, RESAMPLE), True, True


def decode(fp: Path | BinaryIO, settings: Settings) -> Decoded:
    """One image file as `settings` say; raises one of `DECODE_ERRORS` for a bad file. Photos
    are turned upright by their EXIF orientation first."""
    with Image.open(fp) as im:
        im.load()  # decode now: a truncated file fails here
        ImageOps.exif_transpose(im, in_place=True)
        im, converted = to_mode(im, MODES[settings.channels])
        im, cropped, resized = to_square(im, settings.resolution, settings.fit)
        pixels = np.asarray(im, dtype=np.uint8)
    return Decoded(
        pixels.reshape(*pixels.shape[:2], settings.channels), converted, cropped, resized
    )


def reason(err: Exception) -> str:
    """A short reason for the summary: PIL's message, without the file name it may hold."""
    if isinstance(err, UnidentifiedImageError):
        return "not an image PIL can read"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) <= 80 else f"{text[:77]}..."


# -- reading files, in this process or in workers ------------------------------------------------


@dataclass(frozen=True)
class Files:
    """Where items' names (POSIX, relative) point: a folder, or a .zip's members under `prefix`
    (None for a folder)."""

    root: Path
    prefix: str | None = None


class Reader:
    """Opens items' files; a zip is opened once per process (its directory is read once)."""

    def __init__(self, files: Files) -> None:
        self.files = files
        self.zip = None if files.prefix is None else zipfile.ZipFile(files.root)

    def open(self, name: str) -> Path | BinaryIO:
        prefix = self.files.prefix
        if self.zip is None or prefix is None:  # both None for a folder
            return self.files.root / name
        return io.BytesIO(self.zip.read(prefix + name))

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


Item = tuple[str, ...]  # the files of one item: (image,), or (input, target) for paired data
Result = tuple[Decoded, ...] | Failed


def decode_items(items: Sequence[Item], settings: Settings, reader: Reader) -> list[Result]:
    """Each item's images, or the first of its files that could not be decoded."""
    out: list[Result] = []
    for item in items:
        decoded = []
        for name in item:
            try:
                decoded.append(decode(reader.open(name), settings))
            except DECODE_ERRORS as err:
                out.append(Failed(name, reason(err)))
                break
        else:
            out.append(tuple(decoded))
    return out


_reader: Reader | None = None  # a worker process's


def _start_worker(files: Files) -> None:
    """In each worker: open the files once; leave Ctrl-C to the main process, which stops the
    pool and removes what was written."""
    global _reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _reader = Reader(files)


def _decode_in_worker(items: Sequence[Item], settings: Settings) -> list[Result]:
    assert _reader is not None, "_start_worker runs first in every worker"
    return decode_items(items, settings, _reader)


def worker_count(progress: Progress, items: int) -> int:
    """The processes to decode `items` items with: `progress.workers` (0: one per core), no
    more than there are chunks; 1 for a few items, which a pool would only slow down."""
    if items <= FEW:
        return 1
    return min(progress.workers or os.cpu_count() or 1, -(-items // CHUNK))


class Decoder:
    """Decodes items in order, in `workers` processes, or in this one for `workers` = 1. A
    context manager: leaving it (Ctrl-C included) cancels what is queued and stops the pool."""

    def __init__(self, files: Files, settings: Settings, workers: int) -> None:
        self.files, self.settings, self.workers = files, settings, workers
        self.pool: ProcessPoolExecutor | None = None
        self.reader: Reader | None = None

    def __enter__(self) -> Decoder:
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(
                self.workers, initializer=_start_worker, initargs=(self.files,)
            )
        else:
            self.reader = Reader(self.files)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.reader is not None:
            self.reader.close()

    def run(self, items: Sequence[Item], chunk: int) -> Iterator[tuple[int, list[Result]]]:
        """(offset, results) of each chunk of `items`, in order. At most two chunks per worker
        are in flight, so decoded rows never pile up in memory."""
        starts = range(0, len(items), chunk)
        if self.pool is None:
            assert self.reader is not None
            for start in starts:
                yield start, decode_items(items[start : start + chunk], self.settings, self.reader)
            return
        window: deque[tuple[int, Future[list[Result]]]] = deque()
        for start in starts:
            window.append(
                (
                    start,
                    self.pool.submit(
                        _decode_in_worker, items[start : start + chunk], self.settings
                    ),
                )
            )
            if len(window) >= 2 * self.workers:
                start0, future = window.popleft()
                yield start0, future.result()
        while window:
            start0, future = window.popleft()
            yield start0, future.result()


# -- writing rows --------------------------------------------------------------------------------


@dataclass
class Rows:
    """Writes decoded items into `writer`'s splits: the last image of an item is its pixels, the
    first (paired data) its input. Checks that every image has one shape, and counts."""

    writer: PreparedWriter
    decoder: Decoder
    progress: Progress
    where: str  # "folder: ROOT", for errors
    paired: bool = False
    with_files: bool = False
    summary: Summary = field(default_factory=Summary)
    shape: tuple[int, int, int] | None = None  # H×W×C, known once an image is decoded
    first: str = ""  # the file that fixed `shape`, for the error when another differs

    def __post_init__(self) -> None:
        s = self.decoder.settings
        if s.resolution is not None:
            self.shape = (s.resolution, s.resolution, s.channels)

    def split(self, name: str, items: Sequence[Item], labels: np.ndarray) -> None:
        """Decode and write split `name`."""
        self.progress.start(f"decoding {name}", len(items))
        out: SplitWriter | None = None
        for start, results in self.decoder.run(items, self._chunk(len(items[0]) if items else 1)):
            kept = [(i, r) for i, r in enumerate(results, start) if self._keep(r, items[i])]
            if kept:
                out = out or self._open(name, len(items))
                images = [r for _, r in kept]
                out.append(
                    np.stack([r[-1].pixels for r in images]),
                    labels[[i for i, _ in kept]],
                    np.stack([r[0].pixels for r in images]) if self.paired else None,
                    [items[i][0] for i, _ in kept] if self.with_files else None,
                )
            self.progress.advance(len(results))
        if out is None:  # nothing in this split (a small dataset's test split, or all skipped)
            out = self._open(name, 0)
        self.summary.kept += out.n
        self.writer.done(name, out)

    def _chunk(self, images_per_item: int) -> int:
        if self.shape is None:
            return CHUNK
        return max(1, min(CHUNK, CHUNK_BYTES // (int(np.prod(self.shape)) * images_per_item)))

    def _open(self, name: str, count: int) -> SplitWriter:
        if self.shape is None:
            raise GancliError(
                f"{self.where}: none of the images could be decoded (first: "
                f"{self.summary.skipped[0][0]}: {self.summary.skipped[0][1]})"
            )
        return self.writer.split(
            name, count, self.shape, self.shape if self.paired else None, self.with_files
        )

    def _keep(self, result: Result, item: Item) -> TypeGuard[tuple[Decoded, ...]]:
        """Whether `result` is written (then it is the item's images, not a `Failed`): a failure
        is skipped (or stops a strict prepare); an image of another shape than the first stops
        the prepare."""
        if isinstance(result, Failed):
            if self.progress.strict:
                raise GancliError(
                    f"{self.where}: cannot decode {result.file} ({result.why}); "
                    "fix or remove it, or set strict=false to skip it"
                )
            self.summary.skipped.append((result.file, result.why))
            return False
        for file, image in zip(item, result, strict=True):
            self._check_shape(file, image.pixels.shape)
            self.summary.converted += image.converted
            self.summary.cropped += image.cropped
            self.summary.resized += image.resized
        return True

    def _check_shape(self, file: str, shape: tuple[int, ...]) -> None:
        h, w, _ = shape
        if self.shape is None:
            if h != w:
                raise GancliError(
                    f"{self.where}: {file} is {w}×{h}: data.resolution=null keeps "
                    "images as they are, which needs square images of one size; "
                    "set data.resolution=N to resize them"
                )
            self.shape, self.first = (h, w, shape[2]), file
        elif shape != self.shape:
            raise GancliError(
                f"{self.where}: images differ in size ({self.first} is "
                f"{self.shape[1]}×{self.shape[0]}, {file} is {w}×{h}); set "
                "data.resolution=N to resize them to one"
            )


def warn_skipped(where: str, summary: Summary) -> None:
    """Log the files a prepare skipped: a run that prepares on first use shows no table."""
    if summary.skipped:
        file, why = summary.skipped[0]
        log.warning(
            "%s: skipped %d file(s) that could not be decoded, first %s (%s); "
            "strict=true stops at them instead",
            where,
            len(summary.skipped),
            file,
            why,
        )
