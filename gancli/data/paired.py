"""Paired images for image-to-image translation (pix2pix): `data=paired_folder data.root=FOLDER`.

Layout: `data.root` holds two sub-folders, `input/` and `target/`, whose images pair up by file
name without its extension (input/0001.png ↔ target/0001.png; input/a.jpg ↔ target/a.png is
fine). Only images directly in the two folders count. Every image on one side needs exactly one
partner on the other: a pair with a missing half is an error that names the file, rather than
silently training on fewer pairs than the folder holds.

As in `data=folder`, both sides are read as RGB, shorter side resized to `data.resolution` and
centre-cropped square (null keeps them as they are, which needs one size throughout), and a
fixed-seed permutation of the pairs sends 10% of them to `test`.

`TensorData.x` holds the targets (what G must produce and D judges) and `y` the inputs, row for
row; `DataInfo.cond_shape` is one input's shape.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.data.folder import IMAGE_SUFFIXES, read_image, split_items
from gancli.data.images import to_model_range
from gancli.errors import GancliError

SIDES = ("input", "target")


def side_images(root: Path, side: str) -> dict[str, Path]:
    """The images directly in `root/side`, by file stem."""
    folder = root / side
    if not folder.is_dir():
        raise GancliError(f"paired_folder: {root} has no {side}/ sub-folder; data.root must hold "
                          "input/ and target/ folders of images paired by file name")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise GancliError(f"paired_folder: {side}/{found[path.stem].name} and "
                              f"{side}/{path.name} have the same name; keep one of them")
        found[path.stem] = path
    return found


def find_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(input, target) files under `root`, sorted by name; errors for unpaired files."""
    if not root.is_dir():
        raise GancliError(f"paired_folder: {root} is not a folder (set data.root=FOLDER holding "
                          "input/ and target/ sub-folders)")
    inputs, targets = (side_images(root, side) for side in SIDES)
    for have, lack, side, other in ((inputs, targets, "input", "target"),
                                    (targets, inputs, "target", "input")):
        alone = sorted(set(have) - set(lack))
        if alone:
            more = f" (and {len(alone) - 1} more)" if len(alone) > 1 else ""
            raise GancliError(f"paired_folder: {side}/{have[alone[0]].name}{more} has no partner "
                              f"in {other}/ (pairs share a file name, any extension); add "
                              f"{other}/{alone[0]}.png or remove it")
    if not inputs:
        raise GancliError(f"paired_folder: no images ({', '.join(IMAGE_SUFFIXES)}) in "
                          f"{root / 'input'} and {root / 'target'}")
    return [(inputs[stem], targets[stem]) for stem in sorted(inputs)]


@register_dataset("paired_folder")
def load_paired_folder(cfg: DictConfig, split: Split) -> TensorData:
    """The pairs under `cfg.root` (see the module docstring for layout and split)."""
    if cfg.root is None:
        raise GancliError("data.root is not set: point it at a folder holding input/ and "
                          "target/ sub-folders of paired images (data=paired_folder "
                          "data.root=FOLDER)")
    root = Path(cfg.root).expanduser()
    picked = split_items(find_pairs(root), split, f"paired_folder: {root} has too few pairs")
    inputs = [read_image(p, cfg.resolution) for p, _ in picked]
    targets = [read_image(p, cfg.resolution) for _, p in picked]
    if len({img.shape for img in inputs + targets}) > 1:
        raise GancliError(f"paired_folder: images under {root} differ in size; set "
                          "data.resolution to resize them to one")
    y = to_model_range(torch.stack(inputs).float() / 255.0, None)
    x = to_model_range(torch.stack(targets).float() / 255.0, None)
    info = DataInfo("paired_folder", "image", tuple(x.shape[1:]), 0,
                    cond_shape=tuple(y.shape[1:]))
    return TensorData(info, x=x, y=y)
