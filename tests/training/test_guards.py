"""A diverging run stops with a clear message and keeps its last good checkpoint; Ctrl-C saves
and exits cleanly."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import torch

from gancli.checkpoint import load_checkpoint
from gancli.losses import LOSSES
from gancli.losses.js import NonSaturatingLoss
from gancli.training.loop import Trainer, TrainingDiverged
from gancli.training.stopping import INTERRUPTED
from tests.conftest import GANCLI, TINY, compose_train, run_cli, signal_when


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
    with pytest.raises(
        TrainingDiverged,
        match=r"loss_d became nan by step 15; .*last good "
        r"checkpoint: .*last\.pt",
    ):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert ckpt["step"] == 10  # written at ckpt_every=10, never overwritten with NaN weights
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())


def test_ctrl_c_finishes_the_step_saves_it_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Ctrl-C during step 7 (between logged steps, no checkpoint due): the loop finishes that
    step, checkpoints it, says how to resume and exits 130; SIGINT's handler is given back."""
    train_step = Trainer.train_step

    def ctrl_c_during_step_7(self: Trainer, measure: bool) -> dict[str, torch.Tensor]:
        stats = train_step(self, measure)
        if self.step == 6:  # counted once the step returns
            signal.raise_signal(signal.SIGINT)
        return stats

    monkeypatch.setattr(Trainer, "train_step", ctrl_c_during_step_7)
    handler = signal.getsignal(signal.SIGINT)
    run = tmp_path / "run"
    proc = run_cli(
        "train",
        *TINY,
        "train.steps=100000",
        "train.ckpt_every=100000",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == INTERRUPTED
    assert "stopped at step 7 of" in proc.stderr and f"resume={run}" in proc.stderr
    # The relaunch it names works: test_long_runs.test_resume_auto_starts_continues_and_finishes
    assert f"the same command with resume=auto hydra.run.dir={run})" in proc.stderr
    assert load_checkpoint(run)["step"] == 7
    assert signal.getsignal(signal.SIGINT) is handler


def test_ctrl_c_to_the_process_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """The real signal through the OS: sent once the process has logged step 5 (it is then in
    the loop), it ends with status 130 and the checkpoint of the step it stopped at."""
    run = tmp_path / "run"
    status, err = signal_when(
        [
            str(GANCLI),
            "train",
            *TINY,
            "train.steps=100000",
            "train.ckpt_every=100000",
            f"hydra.run.dir={run}",
        ],
        tmp_path,
        r"step\s+5/100000",
        lambda p: p.send_signal(signal.SIGINT),
    )
    assert status == INTERRUPTED, err
    assert "Traceback" not in err
    stopped = re.search(r"stopped at step (\d+) of", err)
    assert stopped and int(stopped.group(1)) >= 5
    assert load_checkpoint(run)["step"] == int(stopped.group(1))


def test_a_batch_larger_than_the_training_split_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("train", *TINY, "train.batch_size=2000", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        "gancli: error: train.batch_size=2000 is larger than the training split of data=digits "
        "(1438 items): give train.batch_size=1438 or less"
    )
    assert "Traceback" not in proc.stderr and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("where", ["first step", "threads probe"])
def test_a_batch_that_cannot_be_allocated_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    """What torch's CPU allocator raises at the first step (a GPU's OutOfMemoryError reads
    "Tried to allocate 2.00 GiB") names train.batch_size and the size; nothing is written. The
    same where `train.threads=auto` first times a whole batch, before the first step."""

    def no_memory(*args: object) -> dict[str, torch.Tensor]:
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 25600000000 bytes. "
            "Error code 12 (Cannot allocate memory)"
        )

    if where == "first step":
        monkeypatch.setattr(Trainer, "train_step", no_memory)
    else:  # two threads to choose from, so auto measures
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        monkeypatch.setattr(Trainer, "_thread_probe", lambda self: no_memory)
    proc = run_cli("train", *TINY, cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        "gancli: error: train.batch_size=16 does not fit in the memory of cpu: the first step "
        "could not allocate 25.6 GB; give a smaller train.batch_size"
    )
    assert "Traceback" not in proc.stderr and not (tmp_path / "outputs").exists()
