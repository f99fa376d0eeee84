"""Images vs 2D points, decided by the data's kind object (`gancli.data.kinds`): the training
picture and its scores, the default picture size, and what `gancli sample` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gancli.data import DataInfo
from gancli.data.kinds import ImageKind, PointsKind, data_kind
from gancli.data.points import sample_mixture
from gancli.errors import GancliError
from gancli.training.loop import Trainer
from tests.conftest import TINY, compose_train

RING = sample_mixture("ring8", 2000, seed=0)
IMAGES = DataInfo("digits", "image", (1, 8, 8), 10)


def never(n: int) -> torch.Tensor:
    raise AssertionError("writing samples needs no real data")


def ring(n: int) -> torch.Tensor:
    return RING.rows[:n]


class Recorder:
    """Stands in for the Monitor: keeps what would go to metrics.jsonl."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, dict]] = []

    def record_eval(self, step: int, scores: dict) -> None:
        self.lines.append((step, scores))

    def picture(self, path: Path, step: int) -> None:
        pass


def test_the_kind_object_follows_the_data_info() -> None:
    assert isinstance(data_kind(IMAGES, never), ImageKind)
    assert isinstance(data_kind(RING.info, ring), PointsKind)


def test_image_preview_is_a_grid_and_scores_its_diversity_against_real_images(
    tmp_path: Path,
) -> None:
    real = torch.rand(300, 1, 8, 8) * 2 - 1
    asked = []
    kind = data_kind(IMAGES, lambda n: asked.append(n) or real[:n])
    x = torch.rand(6, 1, 8, 8) * 2 - 1  # as varied as the real images
    assert kind.preview(x, (x, 3), tmp_path / "p.png", step=7)[
        "preview_diversity"
    ] == pytest.approx(1.0, abs=0.1)
    assert Image.open(tmp_path / "p.png").size[0] > 3 * 8  # three columns with padding
    one = x[:1].expand(6, -1, -1, -1)  # one image whatever the latent: collapsed
    assert kind.preview(one, (one, 3), tmp_path / "q.png", step=8)["preview_diversity"] == 0
    assert asked == [ImageKind.REAL_N]  # the real images' diversity is measured once


def test_points_preview_is_a_scatter_with_the_mode_scores(tmp_path: Path) -> None:
    kind = data_kind(RING.info, ring)
    scores = kind.preview(RING.rows[:500], (RING.rows[:500], None), tmp_path / "p.png", step=7)
    assert scores["modes_captured"] == 8 and scores["modes_total"] == 8
    assert Image.open(tmp_path / "p.png").size == (500, 500)  # the 5×5 in scatter at 100 dpi
    collapsed = kind.preview(torch.zeros(500, 2), (None, None), tmp_path / "q.png", step=8)
    assert collapsed["modes_captured"] == 0


def test_sample_output_per_kind(tmp_path: Path) -> None:
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    images = data_kind(IMAGES, never)
    saved = np.load(images.write(x.split(3), 4, tmp_path / "s.npz", {"labels": np.arange(4)}))
    assert saved["images"].dtype == np.uint8 and saved["images"].shape == (4, 8, 8, 1)
    assert np.array_equal(saved["images"], images.arrays(x)["images"])  # chunks in order
    assert saved["labels"].tolist() == [0, 1, 2, 3]
    assert len(list(images.write(x.split(3), 4, tmp_path / "pngs", {}).glob("*.png"))) == 4
    points = data_kind(RING.info, ring)
    saved = np.load(points.write([RING.rows[:10]], 10, tmp_path / "p.npz", {}))
    assert saved["points"].dtype == np.float32 and saved["points"].shape == (10, 2)
    assert Image.open(points.picture(RING.rows[:10], (None, None), tmp_path / "p.png")).size == (
        500,
        500,
    )
    with pytest.raises(GancliError, match="^2D point samples cannot be written as a folder"):
        points.write([RING.rows[:10]], 10, tmp_path / "folder", {})
    with pytest.raises(GancliError, match="^cannot write samples as '.jpg'"):
        images.write([x], 4, tmp_path / "s.jpg", {})


@pytest.mark.parametrize(
    "overrides, n",
    [
        (TINY, 64),
        (
            ["data=ring8", "model=mlp", "model.width=8", "data.num_points=500", "train.device=cpu"],
            2500,
        ),
        ([*TINY, "train.sample_n=9"], 9),
    ],
)
def test_the_preview_count_is_the_kinds_unless_set(
    overrides: list[str], n: int, tmp_path: Path
) -> None:
    assert Trainer(compose_train(*overrides), tmp_path).preview.z.shape[0] == n


def test_points_scores_are_recorded_once_per_step(tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(
            "data=ring8",
            "model=mlp",
            "model.width=8",
            "data.num_points=500",
            "train.device=cpu",
            "train.channels_last=true",
        ),
        tmp_path,
    )
    monitor = Recorder()
    trainer.write_samples("step_0.png", monitor)
    trainer.write_samples("final.png", monitor)  # the same step's picture again
    assert [step for step, _ in monitor.lines] == [0]
    assert set(monitor.lines[0][1]) >= {"modes_captured", "hq_fraction", "reverse_kl"}
    assert (tmp_path / "samples" / "final.png").is_file()


def test_evaluation_asks_the_kind_and_names_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new kind of data is one registered subclass: evaluation scores it as the kind says
    (what a generated batch becomes, which metrics apply, how its modes score) without a branch
    of its own, and refuses another kind's samples read from a file."""
    from omegaconf import OmegaConf

    from gancli.config import EvalOptions
    from gancli.data.kinds import DATA_KINDS
    from gancli.evaluation.evaluate import Evaluator, default_metrics

    def opts(**kw: object) -> object:
        return OmegaConf.merge(OmegaConf.structured(EvalOptions), kw)

    class Dots(PointsKind):
        noun = "dots"

        def scored(self, x: torch.Tensor) -> torch.Tensor:
            return x.round()

        def score_modes(self, samples: torch.Tensor) -> dict[str, float | int]:
            return {
                "modes_captured": int(samples.sum()),
                "modes_total": 3,
                "reverse_kl": 0.5,
                "hq_fraction": 1.0,
            }

    monkeypatch.setitem(DATA_KINDS, "dots", Dots)
    info = DataInfo("speckles", "dots", (2,), 0)
    assert default_metrics(info, "classifier") == ["modes"]
    kind = data_kind(info)
    result = Evaluator(opts(), None, info, torch.device("cpu"))(
        kind.scored(torch.full((2, 2), 0.75))
    )
    assert result["modes_captured"] == 4 and result["reverse_kl"] == 0.5
    with pytest.raises(GancliError, match="samples=s.npz hold images but data=speckles is dots"):
        kind.check_file(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), "s.npz")
    with pytest.raises(GancliError, match="speckles is dots: only eval.metrics=\\[modes\\]"):
        Evaluator(opts(metrics=["fid"]), None, info, torch.device("cpu"))


def test_a_datasets_source_carries_its_mode_protocol() -> None:
    """Stacked MNIST's published protocol (channel by channel, uniform target, any class
    counts) comes with its source; data without a source of its own counts the usual way."""
    from gancli.data.store.sources import USUAL, class_protocol

    stacked = class_protocol(DataInfo("stacked_mnist", "image", (3, 28, 28), 1000))
    assert (stacked.threshold, stacked.uniform, stacked.channels_of) == (0.0, True, "mnist")
    assert class_protocol(IMAGES) is USUAL and class_protocol(RING.info) is USUAL
    assert torch.equal(data_kind(RING.info).scored(RING.rows), RING.rows)
    assert data_kind(IMAGES).scored(torch.zeros(1, 1, 8, 8)).dtype == torch.uint8
