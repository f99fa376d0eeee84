"""`gancli data prepare`, `info` and `check`, and the folder and paired-folder sources behind them:
image folders (and zips) built here with PIL, decoded into the prepared format and compared with
what PIL makes of each file."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageOps

from gancli.config.schemas import FolderDataConfig, ImageFilesDataConfig
from gancli.data import load_dataset
from gancli.data.folder import split_indices
from gancli.data.store import decode as decoding
from gancli.data.store.cache import prepare_into
from gancli.data.store.format import open_prepared, read_manifest
from gancli.data.store.sources import Progress
from gancli.errors import GancliError
from tests.conftest import TINY, Result, last_line, run_cli

BILINEAR = Image.Resampling.BILINEAR


def gancli_data(*args: str, check: bool = True) -> Result:
    """`gancli data *args` in a fresh working directory, which it must leave empty (no run
    folder, no log file). Fresh for each call also because `run_cli` waits for a new second
    between calls in one directory, for Hydra's run folders, which these commands do not make."""
    cwd = Path(tempfile.mkdtemp(prefix="gancli-data-cwd-"))
    try:
        proc = run_cli("data", *args, cwd=cwd, check=check)
        assert list(cwd.iterdir()) == []
    finally:
        shutil.rmtree(cwd)
    return proc


def folder_cfg(root: Path, **keys: object) -> DictConfig:
    """`data=folder`'s config as composition makes it (typed), for `root`."""
    return OmegaConf.merge(
        OmegaConf.structured(FolderDataConfig),
        {"name": "folder", "root": str(root), "resolution": 8, **keys},
    )


def save(path: Path, image: Image.Image, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def noise(w: int, h: int, seed: int, mode: str = "RGB") -> Image.Image:
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def prepared(cfg: DictConfig, out: Path, **progress: object) -> tuple[dict, dict]:
    """Prepare `cfg` into `out`; the manifest and both splits (None for an empty one)."""
    prepare_into(cfg, out, Progress(**progress))
    manifest = read_manifest(out)
    return manifest, {
        split: open_prepared(out, split) if entry["count"] else None
        for split, entry in manifest["splits"].items()
    }


def one_image(root: Path, **keys: object) -> np.ndarray:
    """The pixels of the one image in `root` (train split), prepared with `keys`."""
    _, splits = prepared(folder_cfg(root, **keys), root.parent / f"{root.name}-out")
    return splits["train"].rows[0].numpy()


def classes_tree(root: Path) -> list[Path]:
    """Two classes of PNG and JPEG images of mixed sizes; a nested folder counts for its
    top-level class."""
    files = [save(root / "cats" / f"c{i}.png", noise(12 + 3 * i, 12, i)) for i in range(5)]
    files += [
        save(
            root / "dogs" / ("deep" if i % 2 else "") / f"d{i}.jpg",
            noise(10, 10 + 2 * i, 10 + i),
            quality=90,
        )
        for i in range(7)
    ]
    (root / "dogs" / "notes.txt").write_text("not an image")
    return sorted(files)


def test_folder_round_trip_matches_pil(tmp_path: Path) -> None:
    files = classes_tree(tmp_path / "src")
    manifest, splits = prepared(folder_cfg(tmp_path / "src"), tmp_path / "out")
    assert manifest["classes"] == ["cats", "dogs"] and manifest["num_classes"] == 2
    assert manifest["shape"] == [3, 8, 8] and manifest["summary"]["kept"] == 12
    seen = []
    for split, data in splits.items():
        picked = [files[i] for i in split_indices(len(files))[split]]  # the split of before
        assert [f.relative_to(tmp_path / "out") for f in data.files] == [
            p.relative_to(tmp_path / "src") for p in picked
        ]
        assert data.rows.dtype == torch.uint8 and data.rows.shape[1:] == (8, 8, 3)
        for path, row, label in zip(picked, data.rows, data.y, strict=True):
            with Image.open(path) as im:
                want = np.asarray(ImageOps.fit(im.convert("RGB"), (8, 8), BILINEAR))
            assert np.array_equal(row.numpy(), want), path
            assert label == ["cats", "dogs"].index(path.relative_to(tmp_path / "src").parts[0])
        seen += picked
    assert sorted(seen) == files
    cached = load_dataset(folder_cfg(tmp_path / "src"), "train")  # data=folder: the same rows
    assert np.array_equal(cached.rows.numpy(), splits["train"].rows.numpy())


def test_conversions_to_rgb(tmp_path: Path) -> None:
    """Each mode becomes 8-bit RGB: grey repeated, alpha composited on black, palettes
    expanded (transparent entries black), 16-bit scaled rather than clipped."""
    root = tmp_path / "src"
    save(root / "grey.png", Image.new("L", (4, 4), 100))
    save(root / "rgba.png", Image.new("RGBA", (4, 4), (200, 100, 50, 128)))
    save(root / "la.png", Image.new("LA", (4, 4), (250, 51)))
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([255, 0, 0, 0, 255, 0])
    pal.paste(0, (0, 0, 4, 2))
    save(root / "palette.png", pal)
    save(root / "palette_t.png", pal, transparency=0)
    save(root / "deep.png", Image.fromarray(np.full((4, 4), 32896, np.uint16)))
    save(root / "bits.png", Image.new("1", (4, 4), 1))
    save(root / "plain.bmp", Image.new("RGB", (4, 4), (1, 2, 3)))
    manifest, splits = prepared(folder_cfg(root, resolution=None), tmp_path / "out")
    rows = {
        f.name: row.numpy()
        for data in splits.values()
        if data
        for f, row in zip(data.files, data.rows, strict=True)
    }
    assert manifest["summary"]["converted"] == 7 and manifest["summary"]["resized"] == 0
    assert (rows["grey.png"] == 100).all()
    assert np.abs(rows["rgba.png"].astype(int) - [100, 50, 25]).max() <= 1
    assert np.abs(rows["la.png"].astype(int) - 50).max() <= 1
    assert (rows["palette.png"][:2] == [255, 0, 0]).all()
    assert (rows["palette.png"][2:] == [0, 255, 0]).all()
    assert (rows["palette_t.png"][:2] == 0).all()  # the transparent entry, on black
    assert (rows["palette_t.png"][2:] == [0, 255, 0]).all()
    assert (rows["deep.png"] == 128).all()  # 32896 / 257: scaled, where clipping gives 255
    assert (rows["bits.png"] == 255).all()
    assert (rows["plain.bmp"] == [1, 2, 3]).all()


@pytest.mark.parametrize(
    "suffix, params", [(".jpg", {"quality": 80}), (".webp", {}), (".bmp", {}), (".png", {})]
)
def test_formats_decode_as_pil_does(tmp_path: Path, suffix: str, params: dict) -> None:
    path = save(tmp_path / "src" / f"a{suffix}", noise(8, 8, 3), **params)
    with Image.open(path) as im:
        assert np.array_equal(one_image(tmp_path / "src"), np.asarray(im.convert("RGB")))


def test_one_channel(tmp_path: Path) -> None:
    path = save(tmp_path / "src" / "a.png", noise(16, 16, 4))
    pixels = one_image(tmp_path / "src", channels=1)
    with Image.open(path) as im:
        want = np.asarray(im.convert("L").resize((8, 8), BILINEAR))
    assert pixels.shape == (8, 8, 1) and np.array_equal(pixels[..., 0], want)
    with pytest.raises(GancliError, match=r"data.channels=2 is not supported: use 1 .* or 3"):
        prepared(folder_cfg(tmp_path / "src", channels=2), tmp_path / "bad")


def stripes() -> Image.Image:
    """32 high, 96 wide: red, green and blue thirds."""
    pixels = np.zeros((32, 96, 3), dtype=np.uint8)
    for c in range(3):
        pixels[:, 32 * c : 32 * (c + 1), c] = 255
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fit", ["crop", "pad", "stretch"])
def test_non_square_images_fit(tmp_path: Path, fit: str) -> None:
    save(tmp_path / "src" / "stripes.png", stripes())
    want = {
        "crop": ImageOps.fit(stripes(), (16, 16), BILINEAR),
        "pad": ImageOps.pad(stripes(), (16, 16), BILINEAR, color=0),
        "stretch": stripes().resize((16, 16), BILINEAR),
    }[fit]
    cfg = folder_cfg(tmp_path / "src", resolution=16, fit=fit)
    manifest, splits = prepared(cfg, tmp_path / "out")
    pixels = splits["train"].rows[0].numpy()
    assert np.array_equal(pixels, np.asarray(want))
    assert manifest["summary"]["cropped"] == 1 and manifest["summary"]["resized"] == 1
    if fit == "crop":  # the centre square is the green third
        assert (pixels[:, 1:-1, 1] == 255).all() and (pixels[:, 1:-1, [0, 2]] == 0).all()
    if fit == "pad":  # the whole image, 16×5, between black bands
        assert (pixels[:5] == 0).all() and (pixels[-5:] == 0).all()
        assert pixels[8, 0, 0] == 255 and pixels[8, -1, 2] == 255


def test_native_size_needs_square_images_of_one_size(tmp_path: Path) -> None:
    for i in range(10):
        save(tmp_path / "src" / f"g{i}.png", Image.new("L", (6, 6), 10 * i))
    manifest, splits = prepared(folder_cfg(tmp_path / "src", resolution=None), tmp_path / "out")
    assert manifest["shape"] == [3, 6, 6] and manifest["summary"]["resized"] == 0
    levels = np.concatenate([s.rows[:, 0, 0, 0].numpy() for s in splits.values()])
    assert sorted(levels.tolist()) == [10 * i for i in range(10)]
    save(tmp_path / "src" / "g3.png", Image.new("L", (8, 8)))
    with pytest.raises(
        GancliError,
        match=r"images differ in size \(g.\.png is .×., g.\.png is "
        r".×.\); set data.resolution=N",
    ):
        prepared(folder_cfg(tmp_path / "src", resolution=None), tmp_path / "out2")
    save(tmp_path / "wide" / "w.png", Image.new("L", (12, 6)))
    with pytest.raises(GancliError, match="w.png is 12×6: .* set data.resolution=N"):
        prepared(folder_cfg(tmp_path / "wide", resolution=None), tmp_path / "out3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src", "wide"]  # no half-written


def corrupt_tree(root: Path) -> None:
    """Twelve good images, a truncated PNG and a text file named like an image."""
    for i in range(12):
        save(root / f"{i:02d}.png", noise(8, 8, i))
    good = (root / "00.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "text.png").write_text("not an image")


def test_undecodable_files_are_skipped_and_named(tmp_path: Path, caplog) -> None:
    corrupt_tree(tmp_path / "src")
    proc = gancli_data(
        "prepare", f"source={tmp_path / 'src'}", f"out={tmp_path / 'out'}", "data.resolution=8"
    )
    assert last_line(proc.stdout) == str(tmp_path / "out")
    assert "truncated.png" in proc.stderr and "text.png" in proc.stderr  # the summary table
    skipped = dict(read_manifest(tmp_path / "out")["summary"]["skipped"])
    assert skipped.keys() == {"truncated.png", "text.png"}
    assert "truncated" in skipped["truncated.png"] and "not an image" in skipped["text.png"]
    assert sum(e["count"] for e in read_manifest(tmp_path / "out")["splits"].values()) == 12
    load_dataset(folder_cfg(tmp_path / "src"), "train")  # data=folder: skips, with a warning
    assert "skipped 2 file(s) that could not be decoded" in caplog.text


def test_strict_stops_at_an_undecodable_file(tmp_path: Path) -> None:
    corrupt_tree(tmp_path / "src")
    proc = gancli_data(
        "prepare",
        f"source={tmp_path / 'src'}",
        f"out={tmp_path / 'out'}",
        "strict=true",
        check=False,
    )
    assert proc.returncode == 1
    error = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and "cannot decode" in error[0] and "strict=false" in error[0]
    assert "text.png" in error[0] or "truncated.png" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_prepare_leaves_nothing(tmp_path: Path, monkeypatch, workers: int) -> None:
    if workers > 1 and multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched decoder reaches the workers only when they are forked")
    for i in range(40):
        save(tmp_path / "src" / f"{i:02d}.png", noise(8, 8, i))

    def decode(fp, settings):
        if Path(fp).name == "25.png":  # Ctrl-C in the middle of a split
            raise KeyboardInterrupt
        return original(fp, settings)

    original = decoding.decode
    monkeypatch.setattr(decoding, "decode", decode)
    monkeypatch.setattr(decoding, "FEW", 4)
    monkeypatch.setattr(decoding, "CHUNK", 4)
    cfg = folder_cfg(tmp_path / "src")
    with pytest.raises(KeyboardInterrupt):
        prepare_into(cfg, tmp_path / "out", Progress(workers=workers))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no out, no .partial folder
    if workers == 1:
        proc = gancli_data(
            "prepare",
            f"source={tmp_path / 'src'}",
            f"out={tmp_path / 'out'}",
            "workers=1",
            check=False,
        )
        assert proc.returncode == 130 and "interrupted" in proc.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_worker_processes_give_the_same_rows(tmp_path: Path, monkeypatch) -> None:
    corrupt_tree(tmp_path / "src")
    monkeypatch.setattr(decoding, "FEW", 4)
    monkeypatch.setattr(decoding, "CHUNK", 3)
    one, rows_one = prepared(folder_cfg(tmp_path / "src"), tmp_path / "one", workers=1)
    two, rows_two = prepared(folder_cfg(tmp_path / "src"), tmp_path / "two", workers=2)
    assert one["summary"] == two["summary"]
    for split in rows_one:
        assert np.array_equal(rows_one[split].rows.numpy(), rows_two[split].rows.numpy())
        assert [f.name for f in rows_one[split].files] == [f.name for f in rows_two[split].files]


def test_out_is_refused_unless_overwrite(tmp_path: Path) -> None:
    save(tmp_path / "src" / "a.png", noise(8, 8, 0))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    args = ("prepare", f"source={tmp_path / 'src'}", f"out={tmp_path / 'out'}")
    proc = gancli_data(*args, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "exists and is not empty" in proc.stderr and "overwrite=true" in proc.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    gancli_data(*args, "overwrite=true")
    assert not (tmp_path / "out" / "keep.txt").exists()
    assert read_manifest(tmp_path / "out")["splits"]["train"]["count"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no run folder, no log


@pytest.mark.parametrize(
    "args, message",
    [
        (("out=OUT",), "give source=FOLDER_OR_ZIP"),
        (("source=SRC",), "give out=DIR"),
        (
            ("source=SRC", "out=OUT", "data=mnist"),
            "source= is the folder or .zip of images of data=folder",
        ),
        (("out=OUT", "data=ring8"), "data=ring8 cannot be prepared"),
        (("source=SRC/missing", "out=OUT"), "is not a folder or a .zip"),
        (("source=SRC", "out=OUT", "data.fit=squash"), "data.fit"),
    ],
)
def test_prepare_errors_are_one_line(tmp_path: Path, args: tuple, message: str) -> None:
    save(tmp_path / "src" / "a.png", noise(8, 8, 0))
    args = tuple(
        a.replace("SRC", str(tmp_path / "src")).replace("OUT", str(tmp_path / "out")) for a in args
    )
    proc = gancli_data("prepare", *args, check=False)
    assert proc.returncode == 1 and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_source(tmp_path: Path) -> None:
    files = classes_tree(tmp_path / "src")
    (tmp_path / "src" / "captions.tsv").write_text("cats/c0.png\ta cat\n")
    rel = {f.relative_to(tmp_path / "src").as_posix(): f.read_bytes() for f in files}
    rel["captions.tsv"] = (tmp_path / "src" / "captions.tsv").read_bytes()
    _, from_folder = prepared(folder_cfg(tmp_path / "src"), tmp_path / "folder")
    wrapped = {f"src/{k}": v for k, v in rel.items()}  # zip -r src.zip src/
    for name, members in (("flat.zip", rel), ("wrapped.zip", wrapped)):
        archive = write_zip(tmp_path / name, {**members, "__MACOSX/._x.png": b"junk"})
        manifest, splits = prepared(folder_cfg(archive), tmp_path / f"{name}-out")
        assert manifest["classes"] == ["cats", "dogs"] and manifest["summary"]["skipped"] == []
        assert manifest["source"] == str(archive)
        assert (tmp_path / f"{name}-out" / "captions.tsv").read_bytes() == rel["captions.tsv"]
        for split, data in splits.items():
            assert np.array_equal(data.rows.numpy(), from_folder[split].rows.numpy())
            assert np.array_equal(data.y.numpy(), from_folder[split].y.numpy())
    one_class = write_zip(
        tmp_path / "imgs.zip",
        {
            f"imgs/{i}.png": save(tmp_path / "png" / f"{i}.png", noise(8, 8, i)).read_bytes()
            for i in range(3)
        },
    )
    manifest, _ = prepared(folder_cfg(one_class), tmp_path / "imgs-out")
    assert manifest["classes"] == [] and manifest["num_classes"] == 1
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(GancliError, match="cannot read .*bad.zip as a .zip"):
        prepared(folder_cfg(tmp_path / "bad.zip"), tmp_path / "bad-out")


def test_captions_are_kept_beside_the_arrays(tmp_path: Path) -> None:
    for i in range(3):
        save(tmp_path / "src" / f"{i}.png", noise(8, 8, i))
    text = "".join(f"{i}.png\timage number {i}\n" for i in range(3))
    (tmp_path / "src" / "captions.tsv").write_text(text)
    _, splits = prepared(folder_cfg(tmp_path / "src"), tmp_path / "out")
    assert (tmp_path / "out" / "captions.tsv").read_text() == text
    assert sorted(f.name for f in splits["train"].files) == ["0.png", "1.png", "2.png"]
    assert all(f.parent == tmp_path / "out" for f in splits["train"].files)


def prepare_small(tmp_path: Path) -> Path:
    classes_tree(tmp_path / "src")
    out = tmp_path / "out"
    gancli_data("prepare", f"source={tmp_path / 'src'}", f"out={out}", "data.resolution=8")
    return out


def test_data_info_shows_the_manifest(tmp_path: Path) -> None:
    out = prepare_small(tmp_path)
    proc = gancli_data("info", str(out))
    manifest = read_manifest(out)
    table = re.sub(r"[\s│]", "", proc.stdout)  # long values wrap inside their cells
    for text in (
        "folder",
        "3×8×8",
        "train",
        "11 images",
        "test",
        "1 image",
        "2: cats, dogs",
        str(tmp_path / "src"),
        "gancli data prepare source=",
        manifest["fingerprint"],
        "kept 12",
        manifest["created"],
    ):
        assert re.sub(r"\s", "", text) in table, text
    proc = gancli_data("info", str(tmp_path / "src"), check=False)
    assert proc.returncode == 1 and "not a prepared dataset" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_data_check(tmp_path: Path) -> None:
    out = prepare_small(tmp_path)
    manifest = read_manifest(out)
    proc = gancli_data("check", str(out))
    assert proc.stdout == (
        f"{out}: {len(manifest['files'])} files OK (fingerprint {manifest['fingerprint']})\n"
    )
    pixels = out / "train-pixels.npy"
    good = pixels.read_bytes()
    pixels.write_bytes(good[:-1])  # truncated
    proc = gancli_data("check", str(out), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert str(pixels) in proc.stderr and "truncated" in proc.stderr
    pixels.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one byte edited, same size
    proc = gancli_data("check", str(out), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert str(pixels) in proc.stderr and "SHA-256" in proc.stderr
    pixels.write_bytes(good)
    (out / "test-labels.npy").unlink()
    proc = gancli_data("check", str(out), check=False)
    assert proc.returncode == 1 and "test-labels.npy is missing" in proc.stderr


def test_data_usage(tmp_path: Path) -> None:
    for args in ((), ("--help",)):
        proc = gancli_data(*args)
        assert all(f"  {sub}" in proc.stdout for sub in ("prepare", "info", "check"))
    proc = gancli_data("unpack", check=False)
    assert proc.returncode == 2 and "unknown data sub-command 'unpack'" in proc.stderr
    assert "usage: gancli data" in proc.stderr
    proc = gancli_data("check", check=False)
    assert proc.returncode == 2 and "gancli data check DIR" in proc.stderr
    proc = gancli_data("prepare", "--help")
    assert "gancli data prepare source=FOLDER_OR_ZIP out=DIR" in proc.stdout


def paired_cfg(root: Path) -> DictConfig:
    return OmegaConf.merge(
        OmegaConf.structured(ImageFilesDataConfig),
        {"name": "paired_folder", "root": str(root), "resolution": 8},
    )


def test_paired_folder_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    for i in range(20):  # input grey level 10·i, target 10·i + 5, twice the size
        save(root / "input" / f"{i:02d}.png", Image.new("L", (16, 16), 10 * i))
        save(root / "target" / f"{i:02d}.jpg", Image.new("RGB", (16, 16), (10 * i + 5,) * 3))
    proc = gancli_data(
        "prepare",
        "data=paired_folder",
        f"data.root={root}",
        f"out={tmp_path / 'out'}",
        "data.resolution=8",
    )
    out = Path(last_line(proc.stdout))
    manifest = read_manifest(out)
    assert manifest["num_classes"] == 0 and manifest["summary"]["converted"] == 20
    for split, n in (("train", 18), ("test", 2)):
        data = open_prepared(out, split)
        assert data.info.cond_shape == (3, 8, 8) and data.info.shape == (3, 8, 8)
        assert data.rows.shape == (n, 8, 8, 3) and data.inputs.shape == (n, 8, 8, 3)
        assert data.y.tolist() == [0] * n
        inputs = data.inputs.float().mean(dim=(1, 2, 3))
        targets = data.rows.float().mean(dim=(1, 2, 3))
        assert (targets - inputs - 5).abs().max() <= 1  # each target with its own input
    cached = load_dataset(paired_cfg(root), "test")
    assert np.array_equal(cached.inputs.numpy(), open_prepared(out, "test").inputs.numpy())


def test_train_on_a_prepared_dataset(tmp_path: Path) -> None:
    out = prepare_small(tmp_path)
    tiny = [o for o in TINY if not o.startswith(("data.", "train.steps", "train.log_every"))]
    proc = run_cli(
        "train",
        "data=prepared",
        f"data.root={out}",
        *tiny,
        "train.steps=2",
        "train.log_every=1",
        "train.batch_size=8",
        cwd=tmp_path,
    )
    assert "step 2/2" in proc.stderr and Path(last_line(proc.stdout)).is_dir()


def test_summary_names_the_first_skipped_files(tmp_path: Path) -> None:
    from rich.console import Console

    from gancli.data.store.prepare import summary_table

    proc = gancli_data("prepare", "data=digits", f"out={tmp_path / 'digits'}")  # no files
    manifest = read_manifest(Path(last_line(proc.stdout)))
    assert "kept" in proc.stderr and "1797 (train 1438, test 359)" in proc.stderr
    manifest["summary"] = {
        "kept": 1797,
        "converted": 0,
        "cropped": 0,
        "resized": 0,
        "skipped": [[f"bad{i}.png", "truncated"] for i in range(13)],
    }
    console = Console(record=True, width=100)
    console.print(summary_table(manifest, 2.0))
    text = console.export_text()
    assert "bad9.png" in text and "bad10.png" not in text and "and 3 more" in text
    assert "898 images/s" in text
