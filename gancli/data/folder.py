"""Any folder of images as a dataset: `data=folder data.root=FOLDER`.

Layout follows torchvision's `ImageFolder`: images in sub-folders of `data.root` get one class
per sub-folder (sorted names, so the numbering is stable); images directly in `data.root` all
get class 0. Every image is converted to RGB, even grey ones, so that a folder always gives
3-channel data whatever it holds; its shorter side is resized to `data.resolution` and it is
centre-cropped square (`data.resolution: null` keeps images as they are, which works only when
they all have one size).

A folder has no train/test split of its own, so a permutation with a fixed seed sends 10% of the
images to `test` and the rest to `train`: the same folder always splits the same way (adding or
removing images reshuffles it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import torch
from omegaconf import DictConfig
from PIL import Image
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.data.images import to_model_range
from gancli.errors import GancliError

T = TypeVar("T")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SPLIT_SEED = 0


def find_images(root: Path) -> tuple[list[Path], list[str]]:
    """Every image file under `root` (sorted), and the class names: the top-level sub-folders
    holding images, or none when the images sit directly in `root`."""
    if not root.is_dir():
        raise GancliError(f"folder: {root} is not a folder (set data.root=FOLDER of images)")
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GancliError(f"folder: no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    in_root = [p for p in files if p.parent == root]
    if not in_root:
        return files, sorted({p.relative_to(root).parts[0] for p in files})
    if len(in_root) < len(files):
        raise GancliError(f"folder: {root} mixes images directly in it (e.g. {in_root[0].name}) "
                          "with class sub-folders; move them into a sub-folder")
    return files, []


def read_image(path: Path, resolution: int | None) -> torch.Tensor:
    """One image as a 3×H×W uint8 tensor, shorter side resized to `resolution` and centre-cropped
    square."""
    try:
        with Image.open(path) as im:
            img = TF.pil_to_tensor(im.convert("RGB"))
    except OSError as err:
        raise GancliError(f"folder: cannot read image {path}: {err}") from None
    if resolution is None:
        return img
    img = TF.resize(img, [resolution], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(img, [resolution, resolution])


def split_items(items: list[T], split: Split, too_few: str) -> list[T]:
    """The `split` share of `items`: a fixed-seed permutation sends 10% to `test`, the rest to
    `train` (see the module docstring); `too_few` starts the error when that share is empty."""
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = len(items) // 10
    picked = [items[i] for i in (order[n_test:] if split == "train" else order[:n_test]).tolist()]
    if not picked:
        raise GancliError(f"{too_few} ({len(items)}) for a {split} split (the test split is 10% "
                          "of them)")
    return picked


@register_dataset("folder")
def load_folder(cfg: DictConfig, split: Split) -> TensorData:
    """The images under `cfg.root` (see the module docstring for layout, labels and split)."""
    if cfg.root is None:
        raise GancliError("data.root is not set: point it at a folder of images "
                          "(data=folder data.root=FOLDER)")
    root = Path(cfg.root).expanduser()
    files, classes = find_images(root)
    picked = split_items(files, split, f"folder: {root} has too few images")
    images = [read_image(p, cfg.resolution) for p in picked]
    if len({img.shape for img in images}) > 1:
        raise GancliError(f"folder: images under {root} differ in size; set data.resolution "
                          "to resize them to one")
    x = to_model_range(torch.stack(images).float() / 255.0, None)
    label = {name: i for i, name in enumerate(classes)}
    y = torch.tensor([label[p.relative_to(root).parts[0]] if classes else 0 for p in picked],
                     dtype=torch.long)
    return TensorData(DataInfo("folder", "image", tuple(x.shape[1:]), max(len(classes), 1)), x, y,
                      picked)
