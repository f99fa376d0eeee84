"""Checkpoints: what they hold, that loading never runs code, and that resume continues exactly."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from gancli.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from gancli.errors import GancliError
from gancli.training import loop
from gancli.training.loop import Trainer
from gancli.training.precision import Float16, Precision
from tests.conftest import TINY, compose_train, last_line, run_cli
from tests.training import test_trainer
from tests.training.test_trainer import POINTS


def test_checkpoint_holds_the_whole_state(tiny_run: Path) -> None:
    ckpt = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["format"] == FORMAT and ckpt["step"] == 20
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "rng"):
        assert ckpt[key], key
    assert set(ckpt["rng"]) >= {"torch", "data"}
    assert ckpt["opt_d"]["state"]  # Adam moments, not just hyper-parameters
    cfg = OmegaConf.create(ckpt["config"])
    assert cfg.train.steps == 20 and cfg.loss.name == "ns"


def test_round_trip_preserves_tensors(tmp_path: Path) -> None:
    payload = {
        "step": 3,
        "config": "a: 1\n",
        "data_info": {"kind": "image"},
        "G": {"w": torch.randn(4, 4)},
        "D": {"w": torch.arange(5)},
    }
    save_checkpoint(tmp_path / "c.pt", payload)
    back = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(back["G"]["w"], payload["G"]["w"])
    assert torch.equal(back["D"]["w"], payload["D"]["w"]) and back["step"] == 3


def test_run_folder_resolves_to_last_checkpoint(tiny_run: Path) -> None:
    assert load_checkpoint(tiny_run)["step"] == 20


class _Hostile:
    """Pickles into a call that would create a file when unpickled."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_hostile_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "G": _Hostile(target)}, bad)
    assert not target.exists()
    with pytest.raises(GancliError, match="pickled Python objects"):
        load_checkpoint(bad)
    assert not target.exists()
    # Through the CLI too: refused with one line, non-zero exit, no file created.
    proc = run_cli("sample", f"ckpt={bad}", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "refusing it" in proc.stderr
    assert not target.exists()


def test_plain_pickle_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps(_Hostile(target)))
    with pytest.raises(GancliError):
        load_checkpoint(bad)
    assert not target.exists()


def test_truncated_checkpoint_is_refused(tiny_run: Path, tmp_path: Path) -> None:
    data = (tiny_run / "checkpoints" / "last.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GancliError, match="truncated or not a checkpoint"):
        load_checkpoint(cut)


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, other)
    with pytest.raises(GancliError, match="not a gancli checkpoint"):
        load_checkpoint(other)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(GancliError):
        load_checkpoint(text)
    with pytest.raises(GancliError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    assert zipfile.is_zipfile(other)  # a real torch file, only not ours


@pytest.mark.parametrize(
    "extra", [[], ["loss.r1_gamma=1", "loss.r1_every=3"]], ids=["plain", "lazy-r1"]
)
def test_resume_equals_one_long_run(extra: list[str], tmp_path: Path) -> None:
    """10 steps, then resume to 20, gives the same generator as 20 steps in one go (with lazy
    R1 too: the resumed run's penalty falls on D updates 12, 15, 18 as in the whole run's)."""
    whole = Path(last_line(run_cli("train", *TINY, *extra, cwd=tmp_path).stdout))
    half = Path(last_line(run_cli("train", *TINY, *extra, "train.steps=10", cwd=tmp_path).stdout))
    proc = run_cli(
        "train", f"resume={half}", "train.steps=20", "resume_in_place=false", cwd=tmp_path
    )
    resumed = Path(last_line(proc.stdout))
    assert resumed != half  # a new run folder, as asked; the original is left as it was
    assert load_checkpoint(half)["step"] == 10
    a, b = load_checkpoint(whole), load_checkpoint(resumed)
    assert b["step"] == 20
    for part in ("G", "D", "G_ema"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs"
    # Samples with the same seed are identical.
    outs = []
    for run in (whole, resumed):
        out = tmp_path / f"{run.name}-{len(outs)}.npz"
        run_cli("sample", f"ckpt={run}", "n=8", "seed=3", f"out={out}", cwd=tmp_path)
        outs.append(out.read_bytes())
    x, y = (np.load(io.BytesIO(o))["images"] for o in outs)
    assert np.array_equal(x, y)


def test_resume_refuses_changing_the_model(tiny_run: Path, tmp_path: Path) -> None:
    proc = run_cli("train", f"resume={tiny_run}", "loss=wgan-gp", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "cannot change loss when resuming" in proc.stderr


class _CpuFloat16(Float16):
    """fp16 with its gradient scalers on the CPU (torch.amp.GradScaler("cpu")), which the
    command refuses (`test_fp16_needs_cuda`): the scalers' checkpointing, tested without a GPU."""

    def __init__(self, device: torch.device) -> None:
        Precision.__init__(self, device)
        self.scalers = {}


def test_fp16_scalers_resume_at_their_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed fp16 run goes on at the scale its scalers had reached, not 65,536 again."""
    monkeypatch.setattr(
        loop, "build_precision", lambda name, device, how="given": _CpuFloat16(device)
    )
    first = test_trainer.run(tmp_path / "first", "train.steps=2")
    ckpt_path = tmp_path / "first" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(ckpt_path)
    scaler_g = first.precision._scaler(first.gan.opt_g)
    assert ckpt["scalers"]["opt_g"] == scaler_g.state_dict()
    ckpt["scalers"]["opt_d"] |= {"scale": 512.0, "_growth_tracker": 7}
    save_checkpoint(ckpt_path, ckpt)
    resumed = Trainer(compose_train(*POINTS, f"resume={ckpt_path}"), tmp_path / "again")
    assert resumed.precision._scaler(resumed.gan.opt_d).state_dict()["scale"] == 512.0
    assert resumed.precision._scaler(resumed.gan.opt_d).state_dict()["_growth_tracker"] == 7
    # A checkpoint from before scalers were kept still resumes, its scalers afresh.
    del ckpt["scalers"]
    save_checkpoint(ckpt_path, ckpt)
    older = Trainer(compose_train(*POINTS, f"resume={ckpt_path}"), tmp_path / "older")
    assert older.precision._scaler(older.gan.opt_d).get_scale() == 65536.0
