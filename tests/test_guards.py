"""A diverging run stops with a clear message and keeps its last good checkpoint; Ctrl-C saves
and exits cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from gancli.checkpoint import load_checkpoint
from gancli.losses import LOSSES
from gancli.losses.js import NonSaturatingLoss
from gancli.training.loop import INTERRUPTED, Trainer, TrainingDiverged
from tests.conftest import GANCLI, TINY, compose_train


class NaNFromStep(NonSaturatingLoss):
    """The ns loss until D has been updated `after` times, then NaN."""

    after = 13

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.calls = 0

    def discriminator(self, D, real, fake):
        self.calls += 1
        step = super().discriminator(D, real, fake)
        if self.calls > self.after:
            step.loss = step.loss * torch.nan
        return step


@pytest.fixture
def nan_loss():
    LOSSES["nan-test"] = NaNFromStep
    yield
    del LOSSES["nan-test"]


def test_nan_stops_and_keeps_last_good_checkpoint(nan_loss, tmp_path: Path) -> None:
    cfg = compose_train(*TINY)
    cfg.loss.name = "nan-test"
    trainer = Trainer(cfg, tmp_path)
    # NaN from step 14 on; losses are read at logged steps (every 5) and before every write, so
    # the loop stops at step 15, without a host sync in every step.
    with pytest.raises(TrainingDiverged, match=r"loss_d became nan by step 15; .*last good "
                                              r"checkpoint: .*last\.pt"):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert ckpt["step"] == 10  # written at ckpt_every=10, never overwritten with NaN weights
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())


def test_ctrl_c_saves_and_exits_cleanly(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen([str(GANCLI), "train", *TINY, "train.steps=100000",
                             "train.ckpt_every=100000", f"hydra.run.dir={run}"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == INTERRUPTED
    assert "Traceback" not in err
    assert "interrupted at step" in err and "resume=" in err
    step = load_checkpoint(run)["step"]
    assert 5 <= step < 100000
