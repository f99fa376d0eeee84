"""pix2pix parts: U-Net and PatchGAN shapes and behaviour, the derived image→image tasks, paired
folders, and the translation scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from gancli.conditioning.tasks import TASKS, input_channels, make_inputs
from gancli.data import DATASETS, load_dataset
from gancli.errors import GancliError
from gancli.evaluation.translation import PSNR_CAP, ssim_window, translation_scores
from gancli.models.pix2pix import PatchDiscriminator, UNetGenerator
from tests.conftest import compose_train


def rand_images(n: int, c: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- U-Net generator ----------------------------------------------------------------------


@pytest.mark.parametrize("res", [8, 16, 32])
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 3), (1, 3)])
def test_unet_shape_and_range(res: int, c_in: int, c_out: int) -> None:
    G = UNetGenerator(c_in, c_out, res, width=4)
    y = G(rand_images(2, c_in, res))
    assert y.shape == (2, c_out, res, res)
    assert y.abs().max() <= 1  # tanh: the data's [-1, 1] range


def test_unet_levels_widths_and_init() -> None:
    G = UNetGenerator(3, 3, 32, width=4)
    downs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in downs] == [4, 8, 16, 32, 32]  # log2(32) levels, capped at 8w
    assert all(m.stride == (2, 2) and m.kernel_size == (4, 4) for m in downs)
    # BN after every down conv but the outermost and the innermost: 3 down + 4 up BNs.
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules()) == 3 + 4
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3
    weights = torch.cat([m.weight.flatten() for m in downs])
    assert abs(weights.std().item() - 0.02) < 0.004 and abs(weights.mean().item()) < 0.002


def test_unet_matches_the_official_unet_256_size() -> None:
    """The official repo prints 54.414 M parameters for unet_256 (ngf 64, RGB → RGB) and
    2.769 M for the basic PatchGAN on RGB pairs."""
    G = UNetGenerator(3, 3, 256)
    assert sum(p.numel() for p in G.parameters()) == 54_413_955
    assert sum(p.numel() for p in PatchDiscriminator(6).parameters()) == 2_768_705


def test_unet_uses_skip_connections() -> None:
    """Each output follows its own input; and with the bottleneck cut (the innermost up-conv
    zeroed, so everything through the 1×1 code is constant) the output still depends on the
    input, which only the skips can carry across."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 8, width=4).eval()
    x = rand_images(2, 1, 8)
    x2 = x.clone()
    x2[0, 0, 1, 1] += 0.5
    with torch.no_grad():
        y, y2 = G(x), G(x2)
        assert not torch.equal(y[0], y2[0])
        assert torch.equal(y[1], y2[1])  # eval-mode BN: images do not mix
        innermost_up = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)][0]
        assert innermost_up.in_channels == 16  # the 1×1 code: no skip concatenated below it
        innermost_up.weight.zero_()
        cut, cut2 = G(x), G(x2)
    assert not torch.equal(cut[0], cut2[0]) and not torch.equal(cut[0], cut[1])


def test_unet_dropout_is_the_noise_source() -> None:
    G = UNetGenerator(3, 3, 16, width=4)
    x = rand_images(4, 3, 16)
    torch.manual_seed(1)
    a = G(x)
    b = G(x)
    assert not torch.allclose(a, b)  # train mode: dropout draws differ
    G.eval()
    with torch.no_grad():
        assert torch.equal(G(x), G(x))


@pytest.mark.parametrize("res", [0, 4, 12, 24, 48])
def test_unet_bad_resolution(res: int) -> None:
    with pytest.raises(GancliError, match=r"power of 2 .*set data.resolution \(e.g. 32\)"):
        UNetGenerator(3, 3, res)


# --- PatchGAN discriminator -----------------------------------------------------------------


@pytest.mark.parametrize("res, patches", [(8, 4), (16, 4), (32, 4), (64, 36)])
def test_patchgan_scores_per_patch(res: int, patches: int) -> None:
    D = PatchDiscriminator(6, width=4)
    scores = D(rand_images(3, 6, res))
    assert scores.shape == (3, patches) and patches > 1
    assert scores.min() < 0 < scores.max()  # raw scores, no sigmoid


def test_patchgan_layers_and_stride_choice() -> None:
    D = PatchDiscriminator(4, width=4, n_layers=3)
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [4, 8, 16, 32, 1]
    assert [D.strided_layers(s) for s in (4, 8, 16, 32, 64, 256)] == [0, 1, 2, 3, 3, 3]
    assert D(rand_images(1, 4, 256)).shape == (1, 30 * 30)  # the official 30×30 map
    with pytest.raises(GancliError, match="at least 4×4"):
        D(rand_images(1, 4, 2))


def test_patchgan_patches_are_local() -> None:
    """At 64×64 each score sees a 70×70 window only in part: changing a corner pixel moves the
    scores near it but not the far corner's."""
    D = PatchDiscriminator(3, width=4).eval()
    x = rand_images(1, 3, 64)
    x2 = x.clone()
    x2[0, :, :4, :4] = 1
    with torch.no_grad():
        d = (D(x) - D(x2)).abs().view(6, 6)
    assert d[0, 0] > 0 and d[5, 5] == 0


# --- derived tasks --------------------------------------------------------------------------


def test_task_registry_and_channels() -> None:
    assert sorted(TASKS) == ["colorize", "edges", "inpaint", "superres"]
    assert [input_channels(t, 3) for t in ("inpaint", "colorize", "superres", "edges")] == [
        3,
        1,
        3,
        1,
    ]
    assert input_channels("edges", 1) == 1 and input_channels("inpaint", 1) == 1
    with pytest.raises(GancliError, match="unknown task 'blur'; choose one of: inpaint"):
        input_channels("blur", 3)


@pytest.mark.parametrize("task", ["inpaint", "colorize", "superres", "edges"])
@pytest.mark.parametrize("side", [8, 32])
def test_task_shapes_range_and_determinism(task: str, side: int) -> None:
    targets = rand_images(3, 3, side)
    inputs = make_inputs(task, targets)
    assert inputs.shape == (3, input_channels(task, 3), side, side)
    assert inputs.dtype == targets.dtype
    assert inputs.min() >= -1 and inputs.max() <= 1
    assert torch.equal(inputs, make_inputs(task, targets))
    assert torch.equal(inputs[1:2], make_inputs(task, targets[1:2]))  # per image, no batch mixing


def test_inpaint_fills_the_centre_with_grey() -> None:
    targets = rand_images(2, 3, 16)
    inputs = TASKS["inpaint"](targets)
    assert (inputs[..., 4:12, 4:12] == 0).all()
    hole = torch.zeros(16, 16, dtype=torch.bool)
    hole[4:12, 4:12] = True
    assert torch.equal(inputs[..., ~hole], targets[..., ~hole])


def test_colorize_gives_luminance() -> None:
    grey = torch.linspace(-1, 1, 4).view(4, 1, 1, 1).expand(4, 3, 8, 8)
    assert torch.allclose(TASKS["colorize"](grey), grey[:, :1], atol=1e-6)
    red = torch.full((1, 3, 8, 8), -1.0)
    red[:, 0] = 1
    assert torch.allclose(TASKS["colorize"](red), torch.tensor(0.299 * 2 - 1))


def test_colorize_needs_colour() -> None:
    with pytest.raises(
        GancliError,
        match=r"colorize needs colour images \(3 channels\); "
        r"data=mnist has 1: use data=cifar10 or data=folder",
    ):
        TASKS["colorize"](rand_images(2, 1, 8), "mnist")
    with pytest.raises(GancliError, match="this dataset has 1"):
        make_inputs("colorize", rand_images(2, 1, 8))


def test_superres_blurs_by_four() -> None:
    const = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(TASKS["superres"](const), const)
    x = rand_images(1, 1, 16)
    low = torch.nn.functional.avg_pool2d(TASKS["superres"](x), 4)
    assert torch.allclose(low.mean(), x.mean(), atol=1e-5)  # same block averages, on the whole
    with pytest.raises(GancliError, match="divisible by 4, got 18×18: set data.resolution"):
        TASKS["superres"](rand_images(1, 3, 18))


def test_edges_of_flat_and_step_images() -> None:
    flat = torch.full((2, 3, 8, 8), 0.5)
    assert torch.equal(TASKS["edges"](flat), torch.full((2, 1, 8, 8), -1.0))
    step = torch.full((1, 1, 8, 8), -1.0)
    step[..., 4:] = 1
    edges = TASKS["edges"](step)[0, 0]
    assert torch.equal(edges[:, 3:5], torch.ones(8, 2))  # both sides of the step light up
    assert (edges[:, :3] == -1).all() and (edges[:, 5:] == -1).all()  # no border edges
    rgb = TASKS["edges"](step.expand(1, 3, 8, 8))
    assert torch.allclose(rgb, TASKS["edges"](step), atol=1e-6)  # edges of the luminance


# --- paired folders -------------------------------------------------------------------------


def write_png(path: Path, value: int, size: int = 12, channels: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, channels) if channels == 3 else (size, size)
    Image.fromarray(np.full(shape, value, dtype=np.uint8)).save(path)


def paired_tree(root: Path, n: int) -> Path:
    """Pair i: input grey level 10·i, target grey level 10·i + 5 (so the pairing is visible)."""
    for i in range(n):
        write_png(root / "input" / f"{i:04d}.png", 10 * i, channels=1)
        write_png(root / "target" / f"{i:04d}.png", 10 * i + 5)
    return root


def paired_cfg(root: Path | None, resolution: int | None = 8):
    return OmegaConf.create(
        {
            "name": "paired_folder",
            "root": None if root is None else str(root),
            "resolution": resolution,
            "num_points": 0,
        }
    )


def level(images: torch.Tensor) -> list[int]:
    """Each image's grey level (uint8 rows, N×H×W×C)."""
    return images.float().mean(dim=(1, 2, 3)).round().int().tolist()


def test_paired_folder_splits_and_pairs(tmp_path: Path) -> None:
    root = paired_tree(tmp_path, 20)
    train = load_dataset(paired_cfg(root), "train")
    test = load_dataset(paired_cfg(root), "test")
    assert train.rows.shape == (18, 8, 8, 3) and train.inputs.shape == (18, 8, 8, 3)
    assert test.rows.shape == (2, 8, 8, 3) and train.y.tolist() == [0] * 18
    assert train.info.cond_shape == (3, 8, 8) and train.info.shape == (3, 8, 8)
    assert train.info.name == "paired_folder" and train.info.kind == "image"
    for data in (train, test):
        assert [t - 5 for t in level(data.rows)] == level(data.inputs)  # target with its input
    assert sorted(level(train.inputs) + level(test.inputs)) == [10 * i for i in range(20)]
    assert level(load_dataset(paired_cfg(root), "test").inputs) == level(test.inputs)  # fixed


def test_paired_folder_matches_by_stem_and_keeps_native_size(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    for i in range(10):
        write_png(tmp_path / "input" / f"img{i}.png", 20 * i)
        Image.fromarray(np.full((12, 12, 3), 20 * i + 3, np.uint8)).save(
            tmp_path / "target" / f"img{i}.jpg", quality=100
        )
    (tmp_path / "target" / "notes.txt").write_text("ignored")
    data = load_dataset(paired_cfg(tmp_path, None), "train")
    assert data.rows.shape == (9, 12, 12, 3)
    assert all(
        abs(t - 3 - i) <= 1 for t, i in zip(level(data.rows), level(data.inputs), strict=True)
    )


def test_paired_folder_registered_with_a_yaml() -> None:
    assert "paired_folder" in DATASETS
    cfg = compose_train("data=paired_folder")
    assert (cfg.data.name, cfg.data.root, cfg.data.resolution) == ("paired_folder", None, 32)


@pytest.mark.parametrize(
    "broken, message",
    [
        ("unset", "data.root is not set: point it at a folder holding input/ and target/"),
        ("no root", "is not a folder"),
        ("no input", "has no input/ sub-folder"),
        ("no target", "has no target/ sub-folder"),
        ("extra input", "input/0003.png has no partner in target/"),
        ("extra target", "target/0007.png (and 1 more) has no partner in input/"),
        ("empty", "no images"),
        ("sizes", "is 10×10); set data.resolution=N to resize them to one"),
        ("too few", "has no test items (its splits: train 3, test 0;"),
        ("same stem", "input/0001.jpg and input/0001.png have the same name"),
    ],
)
def test_paired_folder_errors(tmp_path: Path, broken: str, message: str) -> None:
    root = tmp_path / "pairs"
    resolution: int | None = 8
    if broken != "no root":
        paired_tree(root, 10 if broken != "too few" else 3)
    if broken == "no input":
        for f in (root / "input").iterdir():
            f.unlink()
        (root / "input").rmdir()
    elif broken == "no target":
        (root / "target").rename(root / "targets")
    elif broken == "extra input":
        (root / "target" / "0003.png").unlink()
    elif broken == "extra target":
        for name in ("0007.png", "0008.png"):
            (root / "input" / name).unlink()
    elif broken == "empty":
        for side in ("input", "target"):
            for f in (root / side).iterdir():
                f.unlink()
    elif broken == "sizes":
        write_png(root / "target" / "0002.png", 7, size=10)
        resolution = None
    elif broken == "same stem":
        write_png(root / "input" / "0001.jpg", 7)
    split = "test" if broken == "too few" else "train"
    with pytest.raises(GancliError) as err:
        load_dataset(paired_cfg(None if broken == "unset" else root, resolution), split)
    assert message in str(err.value) and "\n" not in str(err.value)


# --- translation scores ---------------------------------------------------------------------


def test_identical_images_score_perfectly() -> None:
    x = rand_images(4, 3, 16)
    scores = translation_scores(x, x)
    assert scores == {"l1": 0.0, "psnr": PSNR_CAP, "ssim": pytest.approx(1.0)}


def test_scores_worsen_with_noise() -> None:
    target = rand_images(6, 3, 16)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(target.shape, generator=g)
    runs = [
        translation_scores((target + s * noise).clamp(-1, 1), target) for s in (0.02, 0.1, 0.3, 1.0)
    ]
    l1, psnr, ssim = ([r[k] for r in runs] for k in ("l1", "psnr", "ssim"))
    assert l1 == sorted(l1) and len(set(l1)) == 4
    assert psnr == sorted(psnr, reverse=True) and len(set(psnr)) == 4
    assert ssim == sorted(ssim, reverse=True) and len(set(ssim)) == 4
    assert 0 < l1[0] and psnr[0] < PSNR_CAP and ssim[-1] < 0.5


def test_scores_match_known_values_and_batching(monkeypatch: pytest.MonkeyPatch) -> None:
    """A constant offset of 51 levels (0.2 on [0, 1]) on grey images: L1 0.2, PSNR
    20·log10(1/0.2) ≈ 13.98 dB; the mean is over images, whatever the batch size."""
    target = torch.full((5, 1, 8, 8), -0.6)  # 0.2 on [0, 1] → 51 levels
    output = torch.full((5, 1, 8, 8), -0.2)  # 0.4 on [0, 1] → 102 levels
    whole = translation_scores(output, target)
    assert whole["l1"] == pytest.approx(0.2, abs=1e-6)
    assert whole["psnr"] == pytest.approx(13.979, abs=1e-3)
    mixed = torch.cat([target[:2], output[2:]])  # 2 perfect images, 3 off
    expected_psnr = (2 * PSNR_CAP + 3 * whole["psnr"]) / 5
    monkeypatch.setattr("gancli.evaluation.translation.BATCH", 2)
    batched = translation_scores(mixed, target)
    assert batched["psnr"] == pytest.approx(expected_psnr, rel=1e-5)
    assert batched["l1"] == pytest.approx(0.2 * 3 / 5, abs=1e-6)


def test_scores_round_like_saved_pngs_and_check_shapes() -> None:
    target = rand_images(2, 3, 8)
    # Less than half a level of difference vanishes in 8-bit pixels, as it would in a PNG.
    assert translation_scores(target + 0.1 / 255, target)["l1"] <= 1 / 255 / 8
    assert ssim_window(8, 8) == (7, pytest.approx(1.5 * 7 / 11))
    assert ssim_window(64, 64) == (11, 1.5)
    with pytest.raises(GancliError, match="one N×C×H×W shape"):
        translation_scores(target, target[:, :1])
