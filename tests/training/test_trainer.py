"""The Trainer's set-up steps, in process: resuming with this command line's (key, value)
pairs continues exactly, and a resumed run refuses what would not continue the same run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gancli.checkpoint import load_checkpoint
from gancli.errors import GancliError
from gancli.training.loop import Trainer
from gancli.training.optimizers import lr_factor
from tests.conftest import compose_train

POINTS = [
    "data=ring8",
    "model=mlp",
    "model.width=16",
    "data.num_points=500",
    "train.device=cpu",
    "train.batch_size=32",
    "train.log_every=5",
    "train.sample_every=100",
    "train.ckpt_every=100",
]


def run(tmp: Path, *overrides: str, pairs: tuple[tuple[str, object], ...] = ()) -> Trainer:
    tmp.mkdir()
    trainer = Trainer(compose_train(*POINTS, *overrides), tmp, pairs)
    trainer.run()
    return trainer


def test_resume_with_overrides_equals_one_run(tmp_path: Path) -> None:
    whole = run(tmp_path / "whole", "train.steps=12")
    run(tmp_path / "half", "train.steps=6")
    half = tmp_path / "half" / "checkpoints" / "last.pt"
    resumed = run(tmp_path / "resumed", f"resume={half}", pairs=(("train.steps", 12),))
    assert resumed.step == 12 and resumed.cfg.train.steps == 12
    a, b = whole.gan.state_dict(), resumed.gan.state_dict()
    for player in ("G", "D", "G_ema"):
        for key, value in a[player].items():
            assert torch.equal(value, b[player][key]), f"{player}.{key}"
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 12


def test_resume_refuses_another_loss(tmp_path: Path) -> None:
    run(tmp_path / "half", "train.steps=2")
    cfg = compose_train(*POINTS, f"resume={tmp_path / 'half' / 'checkpoints' / 'last.pt'}")
    with pytest.raises(GancliError, match="^cannot change loss when resuming"):
        Trainer(cfg, tmp_path / "again", [("loss", "hinge")])


# -- learning-rate decay (optim.decay) -------------------------------------------------------------


def test_lr_factor_is_constant_then_linear_to_zero() -> None:
    factors = [lr_factor(step, 10, 0.5) for step in range(10)]
    assert factors == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert {lr_factor(step, 10, 0.0) for step in range(10)} == {1.0}


def test_decay_sets_both_players_rates_and_resumes_on_schedule(tmp_path: Path) -> None:
    """Over the last half of 10 steps each rate ends at its base times 0.2 (the factor of step
    9, the last one trained); a run resumed at step 6 ends the same way: the schedule is a
    function of the step."""

    def rates(trainer: Trainer) -> list[float]:
        return [trainer.gan.opt_g.param_groups[0]["lr"], trainer.gan.opt_d.param_groups[0]["lr"]]

    decay = ("optim.decay=0.5", "optim.lr_d=4e-4")
    whole = run(tmp_path / "a", "train.steps=10", *decay)
    assert rates(whole) == pytest.approx([2e-4 * 0.2, 4e-4 * 0.2])
    run(tmp_path / "b", "train.steps=6", "train.ckpt_every=6", *decay)
    resumed = run(
        tmp_path / "c",
        "train.steps=10",
        *decay,
        f"resume={tmp_path / 'b' / 'checkpoints' / 'last.pt'}",
        pairs=(("train.steps", 10),),
    )
    assert resumed.step == 10 and rates(resumed) == pytest.approx(rates(whole))
