"""Prepared data at training and evaluation time: the cache of built-in datasets, where a run
keeps the pixels (`data.placement`), the streaming reader, and runs on prepared data (resume,
evaluation, the one-line errors of damaged files)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.data import load_dataset
from gancli.data.images import Digits
from gancli.data.store.cache import cached_folder, ensure_cached, prepare_into
from gancli.data.store.format import open_prepared, read_manifest
from gancli.data.store.stream import Prefetcher, choose, place
from gancli.errors import GancliError
from tests.conftest import TINY, last_line, run_cli

CPU = torch.device("cpu")
# A prepared dataset has its resolution: data=prepared has no data.resolution key.
PREPARED_TINY = [a for a in TINY if not a.startswith("data.resolution")]


def digits_cfg(resolution: int = 8):
    return OmegaConf.create({"name": "digits", "resolution": resolution, "placement": "auto"})


@pytest.fixture(scope="module")
def prepared_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits at 8×8, prepared into a folder of their own."""
    return prepare_into(digits_cfg(), tmp_path_factory.mktemp("prep") / "digits8")


def test_built_in_data_is_prepared_once_then_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = digits_cfg(resolution=4)  # a resolution no other test uses: a fresh cache entry
    first = load_dataset(cfg, "train")
    assert (cached_folder(cfg) / "manifest.json").is_file()

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(Digits, "write", no_decoding)
    again = load_dataset(cfg, "train")  # from the cache: nothing decoded
    assert torch.equal(first.rows, again.rows)
    assert again.path is not None and again.path.parent == cached_folder(cfg)
    assert again.rows.dtype == torch.uint8 and again.rows.shape == (1438, 4, 4, 1)
    # Another resolution is another entry.
    assert cached_folder(digits_cfg(resolution=6)) != cached_folder(cfg)


def test_unwritable_cache_prepares_into_a_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("GANCLI_CACHE", str(blocked))
    data = load_dataset(digits_cfg(resolution=5), "test")
    assert data.rows.shape == (359, 5, 5, 1)
    assert not data.path.is_relative_to(blocked)


def test_prepared_mnist_equals_data_mnist_pixel_for_pixel(mnist_root: Path, tmp_path: Path) -> None:
    cfg = OmegaConf.create(
        {"name": "mnist", "root": str(mnist_root), "resolution": 32, "placement": "auto"}
    )
    out = prepare_into(cfg, tmp_path / "mnist32")
    for split in ("train", "test"):
        direct, prepared = load_dataset(cfg, split), open_prepared(out, split)
        assert torch.equal(direct.rows, prepared.rows) and torch.equal(direct.y, prepared.y)
        assert prepared.info == direct.info
    manifest = read_manifest(out)
    assert manifest["shape"] == [1, 32, 32] and manifest["splits"]["train"]["count"] == 60000
    assert manifest["classes"] == [str(d) for d in range(10)]


def test_opening_a_truncated_file_names_it(prepared_digits: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(prepared_digits, broken)
    pixels = broken / "train-pixels.npy"
    pixels.write_bytes(pixels.read_bytes()[:-100])
    with pytest.raises(GancliError, match="train-pixels.npy is .* bytes, the manifest says"):
        open_prepared(broken, "train")
    with pytest.raises(GancliError, match="holds no manifest.json"):
        open_prepared(tmp_path, "train")


def test_placement_auto_keeps_small_data_on_the_device(prepared_digits: Path) -> None:
    data = open_prepared(prepared_digits, "train")
    assert choose(data, CPU, "auto") == "device"
    assert choose(data, CPU, "stream") == "stream"
    points = load_dataset(OmegaConf.create({"name": "ring8", "num_points": 100}), "train")
    with pytest.raises(GancliError, match="placement=stream needs data read from a prepared"):
        choose(points, CPU, "stream")


@pytest.mark.parametrize("nhwc", [False, True])
def test_batches_are_floats_in_the_players_layout(nhwc: bool, prepared_digits: Path) -> None:
    """Exactly the layout's strides, also for one channel, whose permuted strides count as
    either layout (cuDNN then picks channels-last, which a compiled contiguous run rejects)."""
    data = place(open_prepared(prepared_digits, "train"), CPU, "device", 0)
    layout = torch.channels_last if nhwc else torch.contiguous_format
    if nhwc:
        data.use_channels_last()
    idx, x = data.draw(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 8, 8) and x.dtype == torch.float32
    assert x.stride() == torch.empty(16, 1, 8, 8, memory_format=layout).stride()
    expected = data.rows[idx].permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.equal(x, expected)


def test_stream_reads_the_rows_it_draws_and_resumes_exactly(prepared_digits: Path) -> None:
    data = open_prepared(prepared_digits, "train").shard(1, 2)
    streamed = place(data, CPU, "stream", seed=3)
    assert streamed.stream is not None
    batches = []
    for _ in range(5):
        idx, x = streamed.draw(32, torch.Generator())
        assert set(idx.tolist()) <= set(range(1, len(data), 2))  # this rank's shard only
        assert torch.equal(x, data.rows[idx].permute(0, 3, 1, 2).float() / 127.5 - 1)
        batches.append(idx)
        if len(batches) == 2:
            state = streamed.stream.state()  # as a checkpoint after two batches saves it
    again = place(data, CPU, "stream", seed=99)
    again.stream.load_state(state)
    for want in batches[2:]:
        assert torch.equal(again.draw(32, torch.Generator())[0], want)
    streamed.stream.close()
    again.stream.close()


def test_stream_reports_a_file_truncated_after_opening(
    prepared_digits: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(prepared_digits, copy)
    data = open_prepared(copy, "train")
    reader = Prefetcher(place(data, CPU, "device", 0), torch.Generator())
    with open(copy / "train-pixels.npy", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(GancliError, match="is truncated; run gancli data check"):
        reader.read(torch.tensor([len(data) - 1]))


def test_resume_on_streamed_prepared_data_is_exact(prepared_digits: Path, tmp_path: Path) -> None:
    """10 steps then 10 more from the checkpoint equal 20 in one go, reading the batches from
    the file (data.placement=stream)."""
    args = [
        *PREPARED_TINY,
        "data=prepared",
        f"data.root={prepared_digits}",
        "data.placement=stream",
    ]
    whole = Path(last_line(run_cli("train", *args, cwd=tmp_path).stdout))
    half = Path(last_line(run_cli("train", *args, "train.steps=10", cwd=tmp_path).stdout))
    resumed = Path(
        last_line(run_cli("train", f"resume={half}", "train.steps=20", cwd=tmp_path).stdout)
    )
    a, b = load_checkpoint(whole), load_checkpoint(resumed)
    assert "stream" in b["rng"]
    # Each run's reader thread ended with it (an in-process sweep runs many).
    assert not [t for t in threading.enumerate() if t.name == "gancli-prefetch"]
    for part in ("G", "D"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs"
    assert a["data_info"]["name"] == "digits" and a["data_info"]["shape"] == [1, 8, 8]


def test_eval_against_prepared_reference_matches_the_built_in(
    prepared_digits: Path, tiny_run: Path, tmp_path: Path
) -> None:
    samples = tmp_path / "s.npz"
    run_cli("sample", f"ckpt={tiny_run}", "n=200", f"out={samples}", cwd=tmp_path)
    scores = []
    for name, data in (
        ("builtin", ["data=digits", "data.resolution=8"]),
        ("prepared", ["data=prepared", f"data.root={prepared_digits}"]),
    ):
        proc = run_cli(
            "eval",
            f"samples={samples}",
            *data,
            "eval.metrics=[fid,kid]",
            f"hydra.run.dir={tmp_path / name}",
            cwd=tmp_path,
        )
        scores.append(json.loads(Path(last_line(proc.stdout)).read_text()))
    assert scores[0]["fid"] == pytest.approx(scores[1]["fid"], rel=1e-9)
    assert scores[1]["dataset"] == "digits"
    # The two are byte-identical files, so the caches key them the same.
    assert (
        read_manifest(prepared_digits)["fingerprint"]
        == read_manifest(ensure_cached(digits_cfg()))["fingerprint"]
    )


def test_sample_grid_of_a_prepared_run_is_written(prepared_digits: Path, tmp_path: Path) -> None:
    run = Path(
        last_line(
            run_cli(
                "train",
                *PREPARED_TINY,
                "train.steps=2",
                "data=prepared",
                f"data.root={prepared_digits}",
                cwd=tmp_path,
            ).stdout
        )
    )
    out = tmp_path / "s.npz"
    run_cli("sample", f"ckpt={run}", "n=4", f"out={out}", cwd=tmp_path)
    assert np.load(io.BytesIO(out.read_bytes()))["images"].shape == (4, 8, 8, 1)
