"""The dataset catalogue beyond MNIST: Fashion-MNIST, CIFAR-10, a folder of images, Stacked MNIST.

CIFAR-10's archive is not available here, so its tests build small archives in the same format.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from gancli.config.schemas import FolderDataConfig
from gancli.data import TensorData, load_dataset
from gancli.data.cifar import CIFAR10_ARCHIVE, Cifar10
from gancli.errors import GancliError


def data_cfg(name: str, root: Path | None, resolution: int | None = 32) -> DictConfig:
    return OmegaConf.create(
        {
            "name": name,
            "root": None if root is None else str(root),
            "resolution": resolution,
            "num_points": 1000,
        }
    )


# Fashion-MNIST


def test_fashion_mnist_from_original_files(fashion_root: Path) -> None:
    test = load_dataset(data_cfg("fashion_mnist", fashion_root), "test")
    assert test.pixels().shape == (10000, 1, 32, 32) and test.y.dtype == torch.long
    assert test.rows.min() == 0 and test.rows.max() == 255
    assert test.info.num_classes == 10 and set(test.y.tolist()) == set(range(10))
    assert test.y[0] == 9  # the first test item is an ankle boot
    assert torch.bincount(test.y).tolist() == [1000] * 10


# CIFAR-10


def write_cifar_archive(folder: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list]]:
    """A `cifar-10-python.tar.gz` of the real layout with `per_batch` random images per batch;
    returns what each batch holds."""
    rng = np.random.default_rng(0)
    batches = {}
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / CIFAR10_ARCHIVE, "w:gz") as tar:

        def add(name: str, obj: dict) -> None:
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))

        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, per_batch).tolist()
            add(name, {"batch_label": name, "data": data, "labels": labels})
            batches[name] = (data, labels)
        add("batches.meta", {"label_names": [f"class{i}" for i in range(10)]})
    return batches


def test_cifar10_archive_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = write_cifar_archive(tmp_path)
    monkeypatch.setattr(Cifar10, "md5", None)  # the archive written above, not the published one
    train = load_dataset(data_cfg("cifar10", tmp_path), "train")
    test = load_dataset(data_cfg("cifar10", tmp_path), "test")
    assert train.rows.shape == (20, 32, 32, 3) and test.rows.shape == (4, 32, 32, 3)
    assert train.info.shape == (3, 32, 32) and train.info.num_classes == 10
    data, labels = batches["test_batch"]
    # Row layout: 1024 red, then green, then blue values, each a 32×32 image row by row.
    assert torch.equal(test.pixels(), torch.from_numpy(data).view(-1, 3, 32, 32))
    assert test.y.tolist() == labels and test.y.dtype == torch.long
    train_labels = sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert train.y.tolist() == train_labels
    assert torch.equal(
        train.pixels()[:4], torch.from_numpy(batches["data_batch_1"][0]).view(-1, 3, 32, 32)
    )


def test_cifar10_refuses_an_archive_with_the_wrong_md5(tmp_path: Path) -> None:
    write_cifar_archive(tmp_path)
    with pytest.raises(GancliError, match=f"{CIFAR10_ARCHIVE} is corrupt"):
        load_dataset(data_cfg("cifar10", tmp_path), "train")


def test_cifar10_missing_archive_says_what_to_get(tmp_path: Path) -> None:
    with pytest.raises(
        GancliError,
        match=f"expected {CIFAR10_ARCHIVE} in {tmp_path} "
        r"\(download it from https://www.cs.toronto.edu/",
    ):
        load_dataset(data_cfg("cifar10", tmp_path), "test")
    with pytest.raises(GancliError, match="data.root is not set"):
        load_dataset(data_cfg("cifar10", None), "test")


# A folder of images


def save(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def folder_cfg(root: Path | None, resolution: int | None = 32) -> DictConfig:
    """`data=folder`'s typed config (channels and fit at their defaults)."""
    return OmegaConf.merge(
        OmegaConf.structured(FolderDataConfig),
        {"name": "folder", "root": None if root is None else str(root), "resolution": resolution},
    )


def load_both_splits(root: Path, resolution: int | None) -> tuple[TensorData, TensorData]:
    cfg = folder_cfg(root, resolution)
    return load_dataset(cfg, "train"), load_dataset(cfg, "test")


def test_folder_with_class_sub_folders(tmp_path: Path) -> None:
    sizes = [(40, 60), (64, 32), (17, 23), (100, 100)]
    for i in range(4):  # sorted first: class 0
        save(tmp_path / "cats" / f"c{i}.png", Image.new("RGB", sizes[i], (255, 0, 0)))
    for i in range(5):  # nested folders count for their top-level class
        save(
            tmp_path / "dogs" / ("deep" if i % 2 else "") / f"d{i}.jpg",
            Image.new("RGB", sizes[i % 4], (0, 0, 255)),
        )
    save(tmp_path / "dogs" / "grey.bmp", Image.new("L", (30, 20), 128))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    train, test = load_both_splits(tmp_path, 16)
    assert train.rows.shape == (9, 16, 16, 3) and test.rows.shape == (1, 16, 16, 3)
    assert train.info.num_classes == 2 and train.info.shape == (3, 16, 16)
    x, y = torch.cat([train.pixels(), test.pixels()]).int(), torch.cat([train.y, test.y])
    assert torch.bincount(y).tolist() == [4, 6]
    red = x[:, 0].float().mean(dim=(1, 2)) > 0.9 * 255
    assert torch.equal(red, y == 0)  # the cats are the red images
    grey = x[(x - x[:, :1]).abs().amax(dim=(1, 2, 3)) == 0]
    assert len(grey) == 1 and (grey == 128).all()  # the grey image became RGB, equal channels


def test_flat_folder_is_one_class_centre_cropped(tmp_path: Path) -> None:
    # Stripes 32 high and 96 wide: red, green, blue thirds. Resized to 16×48, the centre crop
    # is the green third.
    stripes = np.zeros((32, 96, 3), dtype=np.uint8)
    for c in range(3):
        stripes[:, 32 * c : 32 * (c + 1), c] = 255
    save(tmp_path / "stripes.png", Image.fromarray(stripes))
    train = load_dataset(folder_cfg(tmp_path, 16), "train")
    assert train.rows.shape == (1, 16, 16, 3) and train.y.tolist() == [0]
    assert train.info.num_classes == 1
    inner = train.pixels()[0, :, :, 1:-1]  # the outer columns blend into the stripes
    assert inner[1].min() == 255 and inner[0].max() == 0 and inner[2].max() == 0
    for i in range(9):
        save(tmp_path / f"grey{i}.png", Image.new("L", (10, 10), 10 * i))
    with pytest.raises(GancliError, match="set data.resolution=N to resize them"):
        load_both_splits(tmp_path, None)  # native size: square images of one size only
    (tmp_path / "stripes.png").unlink()
    save(tmp_path / "grey9.png", Image.new("L", (10, 10), 90))
    train, test = load_both_splits(tmp_path, None)  # native size: 10×10
    assert train.rows.shape == (9, 10, 10, 3) and test.rows.shape == (1, 10, 10, 3)
    assert set(torch.cat([train.y, test.y]).tolist()) == {0}
    assert sorted(torch.cat([train.pixels(), test.pixels()])[:, 0, 0, 0].tolist()) == [
        10 * i for i in range(10)
    ]  # every image once, in one split or the other


def test_folder_problems_name_the_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(GancliError, match=f"no images .* under {tmp_path}$"):
        load_dataset(folder_cfg(tmp_path), "train")
    with pytest.raises(GancliError, match=f"{tmp_path / 'missing'} is not a folder"):
        load_dataset(folder_cfg(tmp_path / "missing"), "train")
    with pytest.raises(GancliError, match="data.root is not set"):
        load_dataset(folder_cfg(None), "train")
    save(tmp_path / "a" / "x.png", Image.new("RGB", (8, 8)))
    save(tmp_path / "y.png", Image.new("RGB", (9, 9)))
    with pytest.raises(GancliError, match="mixes images directly in it"):
        load_dataset(folder_cfg(tmp_path), "train")
    (tmp_path / "y.png").unlink()
    with pytest.raises(GancliError, match=r"has no test items \(its splits: train 1, test 0;"):
        load_dataset(folder_cfg(tmp_path), "test")
    (tmp_path / "a" / "z.png").write_bytes(b"not a png")  # skipped, with a warning naming it
    assert len(load_dataset(folder_cfg(tmp_path), "train")) == 1
    assert "skipped 1 file(s) that could not be decoded, first a/z.png" in caplog.text


# Stacked MNIST


def test_stacked_mnist_channels_are_mnist_digits(mnist_root: Path) -> None:
    stacked = load_dataset(data_cfg("stacked_mnist", mnist_root), "test")
    assert stacked.pixels().shape == (10000, 3, 32, 32) and stacked.y.dtype == torch.long
    assert stacked.info.num_classes == 1000 and stacked.info.shape == (3, 32, 32)
    mnist = load_dataset(data_cfg("mnist", mnist_root), "test")
    digits = mnist.pixels()[:, 0].flatten(1)
    for i in range(5):
        source = [
            (digits == channel.flatten()).all(dim=1).nonzero()[0, 0]
            for channel in stacked.pixels()[i]
        ]  # the MNIST image each channel is
        r, g, b = (mnist.y[j].item() for j in source)
        assert stacked.y[i] == 100 * r + 10 * g + b
    again = load_dataset(data_cfg("stacked_mnist", mnist_root), "test")
    assert torch.equal(again.y, stacked.y)  # built with a fixed seed


def test_stacked_mnist_train_covers_the_1000_classes(mnist_root: Path) -> None:
    train = load_dataset(data_cfg("stacked_mnist", mnist_root), "train")
    assert train.pixels().shape == (60000, 3, 32, 32)
    assert train.y.unique().numel() > 900
