"""Datasets: shapes, value range, splits, checksums and the messages for missing or bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from gancli.data import DATASETS, load_dataset
from gancli.data.points import grid25_modes, ring8_modes
from gancli.errors import GancliError
from tests.conftest import TINY, run_cli


def data_cfg(**kw):
    return OmegaConf.create(
        {"name": "digits", "root": None, "resolution": None, "num_points": 1000, **kw}
    )


def test_digits_range_shape_and_disjoint_splits() -> None:
    train = load_dataset(data_cfg(resolution=16), "train")
    test = load_dataset(data_cfg(resolution=16), "test")
    # Stored as uint8 N×H×W×C rows; the networks get floats in [-1, 1], N×C×H×W.
    assert train.rows.shape == (1438, 16, 16, 1) and train.rows.dtype == torch.uint8
    assert test.pixels().shape == (359, 1, 16, 16)
    x = train.spread(len(train))
    assert x.shape == (1438, 1, 16, 16) and x.dtype == torch.float32
    assert torch.equal(train.spread(3), x[[0, 718, 1437]])  # first, middle, last
    assert x.min() == -1 and x.max() == 1
    assert set(train.y.tolist()) == set(range(10))
    native = load_dataset(data_cfg(), "train").pixels()
    flat = {tuple(v.tolist()) for v in native.flatten(1)}
    test_native = load_dataset(data_cfg(), "test").pixels()
    assert sum(tuple(v.tolist()) in flat for v in test_native.flatten(1)) < 10  # few duplicates


def test_mnist_from_original_files(mnist_root: Path) -> None:
    test = load_dataset(data_cfg(name="mnist", root=str(mnist_root), resolution=32), "test")
    assert test.pixels().shape == (10000, 1, 32, 32) and test.y.shape == (10000,)
    assert test.rows.min() == 0 and test.rows.max() == 255
    assert test.y[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test labels


def test_mnist_missing_and_corrupt_files_are_named(mnist_root: Path, tmp_path: Path) -> None:
    # Both splits are prepared together on first use, so all four files are needed.
    with pytest.raises(GancliError, match="expected train-images-idx3-ubyte.gz in"):
        load_dataset(data_cfg(name="mnist", root=str(tmp_path)), "test")
    for f in mnist_root.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(GancliError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        load_dataset(data_cfg(name="mnist", root=str(tmp_path)), "test")
    with pytest.raises(GancliError, match="data.root is not set"):
        load_dataset(data_cfg(name="mnist"), "test")


@pytest.mark.parametrize(
    "name, root, other",
    [("mnist", "fashion-mnist", "fashion_mnist"), ("fashion_mnist", "mnist", "mnist")],
)
def test_another_datasets_files_are_named_not_called_corrupt(
    name: str, root: str, other: str, mnist_root: Path, fashion_root: Path
) -> None:
    """The four files of MNIST and Fashion-MNIST have the same names and format; each file's
    MD5 says which dataset it is."""
    titles = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
    folder = mnist_root.parent / root
    with pytest.raises(GancliError) as err:
        load_dataset(data_cfg(name=name, root=str(folder), resolution=8), "train")
    assert str(err.value) == (
        f"data={name}: {folder / 'train-images-idx3-ubyte.gz'} is {titles[other]}'s "
        f"train-images-idx3-ubyte.gz, not {titles[name]}'s: use data={other}, or set data.root "
        f"to a folder of the {titles[name]} files"
    )


def test_a_resolution_the_model_cannot_take_fails_before_the_data_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANCLI_CACHE", str(tmp_path / "cache"))
    proc = run_cli("train", *TINY, "data.resolution=12", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        "gancli: error: model=dcgan needs a square image side that is a power of 2 and at "
        "least 8, got 12: set data.resolution (e.g. 32)"
    ]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "name, modes, std", [("ring8", ring8_modes, 0.01), ("grid25", grid25_modes, 0.05)]
)
def test_mixtures_match_the_protocol_geometry(name, modes, std) -> None:
    data = load_dataset(data_cfg(name=name, num_points=20000), "train")
    centres, s = modes()
    assert s == std
    d = torch.cdist(data.rows, centres).min(dim=1).values
    assert (d < 3 * std * 1.5).float().mean() > 0.99  # points sit on their modes
    counts = torch.bincount(data.y, minlength=len(centres)).float()
    assert counts.min() / counts.max() > 0.8  # equal weights
    if name == "ring8":
        assert torch.allclose(centres.norm(dim=1), torch.ones(8))
    else:
        assert set(centres.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_unknown_dataset_lists_registry() -> None:
    with pytest.raises(GancliError, match="choose one of: " + ", ".join(DATASETS)):
        load_dataset(data_cfg(name="cifar100"))
