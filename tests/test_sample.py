"""`gancli sample`: every output format, determinism, EMA choice, interpolation."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gancli import sampling
from tests.conftest import last_line, run_cli


def _sample(run: Path, tmp_path: Path, *args: str) -> Path:
    """`gancli sample` from a folder of its own under `tmp_path`: a run folder per call, where
    calls in one folder within a second would wait for the next (see `run_cli`)."""
    cwd = Path(tempfile.mkdtemp(dir=tmp_path))
    return Path(last_line(run_cli("sample", f"ckpt={run}", *args, cwd=cwd).stdout))


def test_npz_images_uint8_nhwc(tiny_run: Path, tmp_path: Path) -> None:
    out = _sample(tiny_run, tmp_path, "n=10", f"out={tmp_path / 's.npz'}")
    images = np.load(out)["images"]
    assert images.dtype == np.uint8 and images.shape == (10, 8, 8, 1)
    assert images.max() > images.min()  # not a constant image


def test_same_seed_same_samples_other_seed_differs(tiny_run: Path, tmp_path: Path) -> None:
    a = np.load(_sample(tiny_run, tmp_path, "n=6", "seed=1", f"out={tmp_path / 'a.npz'}"))
    b = np.load(_sample(tiny_run, tmp_path, "n=6", "seed=1", f"out={tmp_path / 'b.npz'}"))
    c = np.load(_sample(tiny_run, tmp_path, "n=6", "seed=2", f"out={tmp_path / 'c.npz'}"))
    assert np.array_equal(a["images"], b["images"])
    assert not np.array_equal(a["images"], c["images"])


def test_a_sample_does_not_depend_on_n(tiny_run: Path, tmp_path: Path) -> None:
    few = np.load(_sample(tiny_run, tmp_path, "n=3", f"out={tmp_path / 'few.npz'}"))["images"]
    many = np.load(_sample(tiny_run, tmp_path, "n=9", f"out={tmp_path / 'many.npz'}"))["images"]
    # Inference-mode batch norm: a sample does not depend on its batch (up to float rounding
    # of batch-size-dependent kernels).
    assert np.abs(few.astype(int) - many[:3].astype(int)).max() <= 2


def test_ema_switch_changes_the_generator(tiny_run: Path, tmp_path: Path) -> None:
    ema = np.load(_sample(tiny_run, tmp_path, "n=4", f"out={tmp_path / 'e.npz'}"))
    raw = np.load(
        _sample(tiny_run, tmp_path, "n=4", "sample.ema=false", f"out={tmp_path / 'r.npz'}")
    )
    assert not np.array_equal(ema["images"], raw["images"])


def test_png_grid(tiny_run: Path, tmp_path: Path) -> None:
    out = _sample(tiny_run, tmp_path, "n=16", f"out={tmp_path / 'grid.png'}")
    with Image.open(out) as img:
        # 4×4 cells of 8 px enlarged to 64 px, 2 px padding.
        assert img.format == "PNG" and img.size == (4 * 66 + 2, 4 * 66 + 2)


def test_default_out_is_in_the_sample_run_folder(tiny_run: Path, tmp_path: Path) -> None:
    out = _sample(tiny_run, tmp_path, "n=4")
    assert out.name == "samples.png" and out.parent.parent.parent.name == "sample"
    assert (out.parent / "sample.log").is_file()


def test_folder_one_png_per_sample(tiny_run: Path, tmp_path: Path) -> None:
    folder = _sample(tiny_run, tmp_path, "n=5", f"out={tmp_path / 'pngs'}")
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(5)]
    npz = np.load(_sample(tiny_run, tmp_path, "n=5", f"out={tmp_path / 'same.npz'}"))["images"]
    for f, expected in zip(files, npz, strict=True):
        assert np.array_equal(np.asarray(Image.open(f)), expected[..., 0])  # lossless


def test_interpolation_grid(tiny_run: Path, tmp_path: Path) -> None:
    out = _sample(
        tiny_run,
        tmp_path,
        "n=16",
        "sample.interpolate=true",
        "sample.steps=8",
        f"out={tmp_path / 'interp.npz'}",
    )
    images = np.load(out)["images"].astype(float)
    assert images.shape[0] == 16  # 2 rows of 8 steps
    row = images[:8]
    step = np.abs(np.diff(row, axis=0)).mean()
    ends = np.abs(row[-1] - row[0]).mean()
    assert step < ends  # neighbours along a path are closer than its two ends


def test_points_npz_and_scatter(ring_run: Path, tmp_path: Path) -> None:
    pts = np.load(_sample(ring_run, tmp_path, "n=100", f"out={tmp_path / 'p.npz'}"))["points"]
    assert pts.dtype == np.float32 and pts.shape == (100, 2)
    with Image.open(_sample(ring_run, tmp_path, "n=100", f"out={tmp_path / 'p.png'}")) as img:
        assert img.format == "PNG"


@pytest.mark.parametrize(
    "args, message",
    [
        (["out=x.jpg"], "cannot write samples as '.jpg'"),
        (["n=0"], "n=0 is out of range: must be >= 1"),
        # 8×8 samples in 66-pixel cells: refused before any is drawn.
        (
            ["n=100000", "out=x.png"],
            "n=100000 samples make a grid of 436M pixels, more than image "
            "viewers open (89M): give n=20541 or less for out=FILE.png, or write any n to "
            "out=FOLDER/ or out=FILE.npz",
        ),
    ],
    ids=["jpeg", "n=0", "huge-grid"],
)
def test_bad_requests_fail_with_one_line(
    tiny_run: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    proc = run_cli("sample", f"ckpt={tiny_run}", *args, cwd=tmp_path, check=False)
    assert proc.returncode == 1 and message in proc.stderr


def test_points_cannot_be_a_folder(ring_run: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "sample", f"ckpt={ring_run}", f"out={tmp_path / 'dir'}", cwd=tmp_path, check=False
    )
    assert proc.returncode == 1 and "cannot be written as a folder" in proc.stderr


def test_a_folder_of_samples_is_replaced_only_on_request(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "pngs"
    _sample(tiny_run, tmp_path, "n=7", f"out={out}")
    refused = run_cli("sample", f"ckpt={tiny_run}", "n=3", f"out={out}", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        f"gancli: error: out={out} exists and is not empty: choose another folder, or add "
        "overwrite=true to replace it"
    ]
    assert len(list(out.iterdir())) == 7
    _sample(tiny_run, tmp_path, "n=3", f"out={out}", "overwrite=true")
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_samples_are_generated_and_written_in_chunks(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sample.batch_size` samples at a time, so that any n fits in memory; the samples are
    those of one batch, in order, in an .npz and in a folder alike."""
    whole = np.load(_sample(tiny_run, tmp_path, "n=10", f"out={tmp_path / 'whole.npz'}"))
    sizes: list[int] = []
    generate = sampling.generate
    monkeypatch.setattr(
        sampling,
        "generate",
        lambda G, z, *args, **kwargs: sizes.append(len(z)) or generate(G, z, *args, **kwargs),
    )
    chunked = np.load(
        _sample(
            tiny_run, tmp_path, "n=10", "sample.batch_size=3", f"out={tmp_path / 'chunked.npz'}"
        )
    )
    assert sizes == [3, 3, 3, 1]
    assert np.array_equal(chunked["images"], whole["images"])
    folder = _sample(tiny_run, tmp_path, "n=10", "sample.batch_size=4", f"out={tmp_path / 'd'}")
    assert sizes[4:] == [4, 4, 2]
    pngs = [np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]
    assert np.array_equal(np.stack(pngs)[..., None], whole["images"])
