"""Right on CUDA before it runs there: what moves between devices (random states, checkpoints)
and what records where it ran, checked on the CPU with a simulated GPU where one is needed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gancli.checkpoint import load_checkpoint, save_checkpoint
from gancli.data.points import sample_mixture
from gancli.runtime import set_rng_state
from gancli.training.loop import Trainer
from tests.conftest import compose_train, last_line, run_cli
from tests.training.test_trainer import POINTS, run


def test_eval_json_records_the_device(tmp_path: Path) -> None:
    path = tmp_path / "points.npz"
    np.savez(path, points=sample_mixture("ring8", 500, seed=5).rows.numpy())
    proc = run_cli(
        "eval",
        f"samples={path}",
        "data=ring8",
        "eval.device=cpu",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert json.loads(Path(last_line(proc.stdout)).read_text())["device"] == "cpu"


def test_a_data_stream_from_another_device_reseeds_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A CUDA generator's state is 16 bytes, a CPU one's 5,056: a run started on a GPU
    continues on the CPU (and the other way) from fresh streams, not a crash."""
    run(tmp_path / "gpu", "train.steps=2")
    ckpt_path = tmp_path / "gpu" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(ckpt_path)
    ckpt["rng"]["data"] = torch.zeros(16, dtype=torch.uint8)  # as a CUDA generator saves it
    save_checkpoint(ckpt_path, ckpt)
    with caplog.at_level(logging.WARNING, logger="gancli.train"):
        trainer = Trainer(
            compose_train(*POINTS, f"resume={ckpt_path}"), tmp_path / "cpu", [("train.steps", 3)]
        )
    assert trainer.step == 2 and "another kind of device than cpu" in caplog.text
    fresh = torch.Generator().manual_seed(trainer.cfg.train.seed + 1_000_003 * 2)  # step 2
    assert torch.equal(trainer.data_rng.get_state(), fresh.get_state())
    (tmp_path / "cpu").mkdir()
    trainer.run()
    assert trainer.step == 3


def test_cuda_streams_restore_on_the_gpus_there_are(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A 2-GPU checkpoint on a 1-GPU machine: the first GPU's stream is restored, with a
    warning, where `torch.cuda.set_rng_state_all` would fail on the second."""
    restored: list[tuple[int, torch.Tensor]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda state, device: restored.append((device, state))
    )
    data_rng = torch.Generator()
    state = {
        "torch": torch.get_rng_state(),
        "data": data_rng.get_state(),
        "cuda": [torch.full((16,), k, dtype=torch.uint8) for k in (1, 2)],
    }
    with caplog.at_level(logging.WARNING, logger="gancli.train"):
        set_rng_state(state, data_rng)
    assert [(d, int(s[0])) for d, s in restored] == [(0, 1)]
    assert "2 GPU(s), this machine has 1: restored 1" in caplog.text
