"""DiffAugment and PacGAN packing: what D is shown."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gancli.errors import GancliError
from gancli.training.augment import build_augment
from gancli.training.augment.diffaug import color, cutout, translation
from gancli.training.critic import CriticView


def images(n: int = 8, c: int = 3, s: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, c, s, s) * 2 - 1


def test_translation_shifts_content_and_pads_with_zeros() -> None:
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 3] = 1  # one lit pixel
    out = translation(x)
    assert out.shape == x.shape
    assert out.sum(dim=(1, 2, 3)).eq(1).all()  # shifted by ≤ 1 px: the pixel stays inside
    moved = (out[:, 0, 3, 3] == 0).float().mean()
    assert 0.3 < moved < 1  # most images moved, some by (0, 0)


def test_cutout_zeroes_a_square_of_half_the_side() -> None:
    x = torch.ones(32, 2, 16, 16)
    out = cutout(x)
    zeros = (out == 0).float().sum(dim=(2, 3))[:, 0]
    assert zeros.max() == 64  # 8×8 fully inside
    assert zeros.min() >= 16  # a square near the border is clipped, never vanishes
    assert torch.equal(out[:, 0], out[:, 1])  # same mask for every channel


def reference_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """DiffAugment_pytorch.py's rand_translation, as the authors wrote it."""
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, size=(n, 1, 1))
    ty = torch.randint(-sy, sy + 1, size=(n, 1, 1))
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(h), torch.arange(w), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("channels", [1, 3])
def test_translation_is_the_references_in_the_images_own_layout(
    layout: torch.memory_format, channels: int
) -> None:
    """The same shifts as the reference for the same draws; the result keeps the input's
    layout with its canonical strides (the reference's are channels-last whatever the input,
    which made compiled CUDA runs fail)."""
    x = torch.rand(64, channels, 12, 12).contiguous(memory_format=layout)
    torch.manual_seed(0)
    expected = reference_translation(x)
    torch.manual_seed(0)
    out = translation(x)
    assert torch.equal(out, expected) and out.is_contiguous(memory_format=layout)
    if layout == torch.contiguous_format:  # exactly NCHW's strides, also for one channel
        assert out.stride() == torch.empty_like(x).stride() != expected.stride()


def reference_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """DiffAugment_pytorch.py's rand_cutout, as the authors wrote it (index_put of the square's
    clamped indices)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), size=(n, 1, 1))
    oy = torch.randint(0, w + (1 - cw % 2), size=(n, 1, 1))
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(ch), torch.arange(cw), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, min=0, max=h - 1)
    gy = torch.clamp(gy + oy - cw // 2, min=0, max=w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


@pytest.mark.parametrize("side", [8, 9, 16, 32])
def test_cutout_is_the_references_mask_without_index_put(side: int) -> None:
    """The same random draws give the same squares as the reference's index_put (which waits
    for a GPU), at even and odd sides, near every border."""
    x = torch.rand(256, 1, side, side) + 0.5
    torch.manual_seed(side)
    expected = reference_cutout(x)
    torch.manual_seed(side)
    assert torch.equal(cutout(x), expected)


def test_color_is_per_image_and_differentiable() -> None:
    x = images().requires_grad_(True)
    out = color(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_diffaug_gradients_reach_the_generator_side() -> None:
    augment = build_augment(
        OmegaConf.create({"name": "diffaug", "policy": ["color", "translation", "cutout"]})
    )
    x = images().requires_grad_(True)
    augment(x).square().sum().backward()
    assert x.grad.abs().sum() > 0


def test_build_augment_none_and_errors() -> None:
    assert build_augment(OmegaConf.create({"name": "none"})) is None
    with pytest.raises(
        GancliError,
        match=r"^unknown DiffAugment policy \(augment.policy\) "
        r"'zoom'; choose one of: color, translation, cutout$",
    ):
        build_augment(OmegaConf.create({"name": "diffaug", "policy": ["color", "zoom"]}))
    with pytest.raises(
        GancliError, match="^unknown augment 'mixup'; choose one of: none, diffaug$"
    ):
        build_augment(OmegaConf.create({"name": "mixup"}))


def test_packing_joins_consecutive_samples_along_channels() -> None:
    seen = []

    class Spy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return x.flatten(1).sum(1)

    x = torch.arange(8 * 2 * 2 * 2, dtype=torch.float32).view(8, 2, 2, 2)
    out = CriticView(Spy(), pack=4)(x)
    assert out.shape == (2,) and seen[0].shape == (2, 8, 2, 2)
    assert torch.equal(seen[0][0, 2:4], x[1]) and torch.equal(seen[0][1, 6:8], x[7])
    points = torch.randn(12, 2)
    CriticView(Spy(), pack=3)(points)
    assert seen[1].shape == (4, 6) and torch.equal(seen[1][1, 2:4], points[4])


def test_pacgan_trains_with_a_d_built_for_packed_input(tmp_path) -> None:
    from gancli.training.loop import Trainer
    from tests.conftest import compose_train

    cfg = compose_train(
        "experiment=grid25",
        "train.pack=4",
        "train.batch_size=64",
        "data.num_points=1000",
        "model.width=16",
    )
    trainer = Trainer(cfg, tmp_path)
    first = next(m for m in trainer.gan.D.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 2 * 4
    stats = trainer.train_step(measure=True)
    assert all(torch.isfinite(v) for v in stats.values())
    cfg.train.batch_size = 30
    with pytest.raises(GancliError, match="multiple of train.pack=4"):
        Trainer(cfg, tmp_path)


def test_diffaug_trains_on_images(tmp_path) -> None:
    from gancli.training.loop import Trainer
    from tests.conftest import TINY, compose_train

    trainer = Trainer(compose_train(*TINY, "augment=diffaug"), tmp_path)
    assert trainer.critic.augment is not None
    stats = trainer.train_step(measure=True)
    assert all(torch.isfinite(v) for v in stats.values())


def test_diffaug_on_2d_points_is_refused_in_one_line(tmp_path) -> None:
    from gancli.training.loop import Trainer
    from tests.conftest import compose_train

    cfg = compose_train("data=ring8", "model=mlp", "augment=diffaug", "data.num_points=512")
    with pytest.raises(GancliError, match="data=ring8 is 2D points: use augment=none"):
        Trainer(cfg, tmp_path)
