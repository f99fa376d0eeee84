"""Any folder (or .zip) of images as a dataset: `data=folder data.root=FOLDER_OR_ZIP`.

Layout follows torchvision's `ImageFolder`: images in sub-folders of `data.root` get one class
per sub-folder (sorted names, so the numbering is stable); images directly in `data.root` all
get class 0. A .zip holds the same tree; when everything in it sits in one top-level folder (as
`zip -r faces.zip faces/` makes it), that folder is the tree's root. PNG, JPEG, WebP and BMP are
read; every image is converted to `data.channels` (1: grey, 3: RGB), made square as `data.fit`
says and resized to `data.resolution` (null keeps them as they are, which works only for
square images of one size). See `gancli.data.store.decode`.

A folder has no train/test split of its own, so a permutation with a fixed seed sends 10% of the
images to `test` and the rest to `train`: the same folder always splits the same way (adding or
removing images reshuffles it).

The images are decoded once into the prepared format (`gancli data prepare source=...`, or into
the cache on first use); each item keeps its file name, and a `captions.tsv` / `captions.json`
in the root is copied beside the arrays, for text conditioning.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

import numpy as np
import torch
from omegaconf import DictConfig

from gancli.config.schemas import Fit
from gancli.data import Split
from gancli.data.store.cache import register_source
from gancli.data.store.decode import (
    DECODE_ERRORS,
    MODES,
    Decoder,
    Files,
    Rows,
    Settings,
    decode,
    reason,
    warn_skipped,
    worker_count,
)
from gancli.data.store.format import PreparedWriter
from gancli.data.store.sources import Progress, Source, Written, file_identity
from gancli.errors import GancliError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CAPTION_FILES = ("captions.tsv", "captions.json")
SPLIT_SEED = 0


def classes_of(names: Sequence[PurePath], root: Path) -> list[str]:
    """The class names of images at `names` (relative to `root`): their top-level sub-folders,
    or none when the images sit directly in `root`; mixing the two is an error."""
    in_root = [p for p in names if len(p.parts) == 1]
    if not in_root:
        return sorted({p.parts[0] for p in names})
    if len(in_root) < len(names):
        raise GancliError(
            f"folder: {root} mixes images directly in it (e.g. {in_root[0].name}) "
            "with class sub-folders; move them into a sub-folder"
        )
    return []


def find_images(root: Path) -> tuple[list[Path], list[str]]:
    """Every image file under the folder `root` (sorted), and the class names."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GancliError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return files, classes_of([p.relative_to(root) for p in files], root)


@dataclass(frozen=True)
class ImageTree:
    """A dataset's images: names relative to its root (POSIX), sorted, and their classes."""

    files: Files
    names: list[str]
    classes: list[str]

    @property
    def labels(self) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.classes)}
        return np.array(
            [index[n.split("/")[0]] if self.classes else 0 for n in self.names], dtype=np.int64
        )


def zip_tree(path: Path) -> ImageTree:
    """The image tree inside the .zip at `path` (macOS's `__MACOSX/` copies left out)."""
    try:
        with zipfile.ZipFile(path) as z:
            members = [PurePosixPath(m.filename) for m in z.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as err:
        raise GancliError(
            f"folder: cannot read {path} as a .zip ({err}); give a folder or a .zip of images"
        ) from None
    images = sorted(
        m for m in members if m.suffix.lower() in IMAGE_SUFFIXES and m.parts[0] != "__MACOSX"
    )
    if not images:
        raise GancliError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    tops = {m.parts[0] for m in images}
    prefix = ""
    if len(tops) == 1 and all(len(m.parts) > 1 for m in images):
        prefix = f"{tops.pop()}/"
        images = [m.relative_to(prefix) for m in images]
    return ImageTree(Files(path, prefix), [m.as_posix() for m in images], classes_of(images, path))


def image_tree(cfg: DictConfig) -> ImageTree:
    """The images of `cfg.root` (a folder or a .zip), with one-line errors for what is not."""
    if cfg.root is None:
        raise GancliError(
            "data.root is not set: point it at a folder or .zip of images "
            "(data=folder data.root=FOLDER_OR_ZIP)"
        )
    root = Path(cfg.root).expanduser().resolve()
    if root.is_file() and root.suffix.lower() == ".zip":
        return zip_tree(root)
    if not root.is_dir():
        raise GancliError(
            f"folder: {root} is not a folder or a .zip (set data.root=FOLDER or FILE.zip of images)"
        )
    files, classes = find_images(root)
    return ImageTree(Files(root), [p.relative_to(root).as_posix() for p in files], classes)


def settings_of(cfg: DictConfig) -> Settings:
    """What decoding makes of each image, from `data=folder`'s keys."""
    if cfg.channels not in MODES:
        raise GancliError(f"data.channels={cfg.channels} is not supported: use 1 (grey) or 3 (RGB)")
    return Settings(cfg.resolution, cfg.channels, Fit(cfg.fit))


def read_image(path: Path, resolution: int | None) -> torch.Tensor:
    """One image as a 3×H×W uint8 tensor, decoded as `data=folder` decodes its images (RGB,
    centre-cropped square, resized to `resolution`; None keeps its size)."""
    try:
        pixels = decode(path, Settings(resolution)).pixels
    except DECODE_ERRORS as err:
        raise GancliError(f"folder: cannot read image {path}: {reason(err)}") from None
    # np.array: the decoded array may be PIL's read-only buffer, which torch warns about.
    return torch.from_numpy(np.array(pixels)).permute(2, 0, 1).contiguous()


def split_indices(n: int) -> dict[Split, list[int]]:
    """Which of `n` items each split holds: a fixed-seed permutation sends 10% to `test`, the
    rest to `train` (see the module docstring)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED)).tolist()
    n_test = n // 10
    return {"train": order[n_test:], "test": order[:n_test]}


def copy_captions(tree: ImageTree, writer: PreparedWriter) -> None:
    """Keep the tree's captions file(s) beside the arrays (`writer.extra`)."""
    files = tree.files
    if files.prefix is None:
        for name in CAPTION_FILES:
            if (files.root / name).is_file():
                writer.extra(files.root / name)
        return
    with zipfile.ZipFile(files.root) as z, tempfile.TemporaryDirectory() as tmp:
        members = set(z.namelist())
        for name in CAPTION_FILES:
            if files.prefix + name in members:
                (Path(tmp) / name).write_bytes(z.read(files.prefix + name))
                writer.extra(Path(tmp) / name)


@register_source("folder")
class Folder(Source):
    """A folder or .zip of images (see the module docstring)."""

    def identity(self, cfg: DictConfig) -> dict:
        tree = image_tree(cfg)
        root = tree.files.root
        paths = (
            [root]
            if tree.files.prefix is not None
            else [root / n for n in (*tree.names, *CAPTION_FILES) if (root / n).is_file()]
        )
        settings = settings_of(cfg)
        return {
            "resolution": settings.resolution,
            "channels": settings.channels,
            "fit": settings.fit.value,
            "files": file_identity(*paths),
        }

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        tree, settings = image_tree(cfg), settings_of(cfg)
        items, labels = [(n,) for n in tree.names], tree.labels
        where = f"folder: {tree.files.root}"
        with Decoder(tree.files, settings, worker_count(progress, len(items))) as decoder:
            rows = Rows(writer, decoder, progress, where, with_files=True)
            for split, picked in split_indices(len(items)).items():
                rows.split(split, [items[i] for i in picked], labels[picked])
        copy_captions(tree, writer)
        warn_skipped(where, rows.summary)
        return Written(
            max(len(tree.classes), 1), tree.classes, rows.summary, source=str(tree.files.root)
        )
