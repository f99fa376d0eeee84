"""Paired images for image-to-image translation (pix2pix): `data=paired_folder data.root=FOLDER`.

Layout: `data.root` holds two sub-folders, `input/` and `target/`, whose images pair up by file
name without its extension (input/0001.png ↔ target/0001.png; input/a.jpg ↔ target/a.png is
fine). Only images directly in the two folders count. Every image on one side needs exactly one
partner on the other: a pair with a missing half is an error that names the file, rather than
silently training on fewer pairs than the folder holds.

As in `data=folder`, both sides are decoded once into the prepared format (RGB, shorter side
resized to `data.resolution` and centre-cropped square; null keeps them as they are, which needs
square images of one size throughout), and a fixed-seed permutation of the pairs sends 10% of
them to `test`. A pair with a file that cannot be decoded is skipped, and named in the summary.

`TensorData.rows` holds the targets (what G must produce and D judges) and `inputs` the inputs,
row for row; `DataInfo.cond_shape` is one input's shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from gancli.data.folder import IMAGE_SUFFIXES, split_indices
from gancli.data.store.cache import register_source
from gancli.data.store.decode import Decoder, Files, Rows, Settings, warn_skipped, worker_count
from gancli.data.store.format import PreparedWriter
from gancli.data.store.sources import Progress, Source, Written, file_identity
from gancli.errors import GancliError

SIDES = ("input", "target")


def side_images(root: Path, side: str) -> dict[str, Path]:
    """The images directly in `root/side`, by file stem."""
    folder = root / side
    if not folder.is_dir():
        raise GancliError(
            f"paired_folder: {root} has no {side}/ sub-folder; data.root must hold "
            "input/ and target/ folders of images paired by file name"
        )
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise GancliError(
                f"paired_folder: {side}/{found[path.stem].name} and "
                f"{side}/{path.name} have the same name; keep one of them"
            )
        found[path.stem] = path
    return found


def find_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(input, target) files under `root`, sorted by name; errors for unpaired files."""
    if not root.is_dir():
        raise GancliError(
            f"paired_folder: {root} is not a folder (set data.root=FOLDER holding "
            "input/ and target/ sub-folders)"
        )
    inputs, targets = (side_images(root, side) for side in SIDES)
    for have, lack, side, other in (
        (inputs, targets, "input", "target"),
        (targets, inputs, "target", "input"),
    ):
        alone = sorted(set(have) - set(lack))
        if alone:
            more = f" (and {len(alone) - 1} more)" if len(alone) > 1 else ""
            raise GancliError(
                f"paired_folder: {side}/{have[alone[0]].name}{more} has no partner "
                f"in {other}/ (pairs share a file name, any extension); add "
                f"{other}/{alone[0]}.png or remove it"
            )
    if not inputs:
        raise GancliError(
            f"paired_folder: no images ({', '.join(IMAGE_SUFFIXES)}) in "
            f"{root / 'input'} and {root / 'target'}"
        )
    return [(inputs[stem], targets[stem]) for stem in sorted(inputs)]


def pairs_root(cfg: DictConfig) -> Path:
    """`cfg.root`, or the one-line error for it being unset."""
    if cfg.root is None:
        raise GancliError(
            "data.root is not set: point it at a folder holding input/ and "
            "target/ sub-folders of paired images (data=paired_folder "
            "data.root=FOLDER)"
        )
    return Path(cfg.root).expanduser().resolve()


@register_source("paired_folder")
class PairedFolder(Source):
    """The pairs under `cfg.root` (see the module docstring for layout and split)."""

    def identity(self, cfg: DictConfig) -> dict:
        pairs = find_pairs(pairs_root(cfg))
        return {
            "resolution": cfg.resolution,
            "files": file_identity(*(path for pair in pairs for path in pair)),
        }

    def write(self, cfg: DictConfig, writer: PreparedWriter, progress: Progress) -> Written:
        root = pairs_root(cfg)
        items = [tuple(p.relative_to(root).as_posix() for p in pair) for pair in find_pairs(root)]
        where = f"paired_folder: {root}"
        with Decoder(
            Files(root), Settings(cfg.resolution), worker_count(progress, len(items))
        ) as decoder:
            rows = Rows(writer, decoder, progress, where, paired=True)
            for split, picked in split_indices(len(items)).items():
                rows.split(split, [items[i] for i in picked], np.zeros(len(picked), np.int64))
        warn_skipped(where, rows.summary)
        return Written(0, [], rows.summary, source=str(root))
