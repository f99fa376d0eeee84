"""A short real run writes every artefact of the run-folder contract, well-formed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import yaml
from PIL import Image

from tests.conftest import TINY, last_line, run_cli

METRIC_KEYS = {
    "step",
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "divergence",
    "grad_norm_d",
    "grad_norm_g",
    "imgs_per_s",
}


def test_run_folder_has_every_artefact(tiny_run: Path) -> None:
    assert tiny_run.parent.parent.name == "train"  # outputs/train/<date>/<time>
    assert tiny_run.parent.parent.parent.name == "outputs"
    config = yaml.safe_load((tiny_run / ".hydra" / "config.yaml").read_text())
    assert config["train"]["steps"] == 20 and config["model"]["name"] == "dcgan"
    assert "train.steps=20" in (tiny_run / ".hydra" / "overrides.yaml").read_text()
    assert "step 20/20" in (tiny_run / "train.log").read_text()
    for name in ("step_10.png", "step_20.png", "final.png"):
        with Image.open(tiny_run / "samples" / name) as img:
            assert img.format == "PNG" and min(img.size) >= 64
    assert (tiny_run / "checkpoints" / "last.pt").is_file()
    assert not list(tiny_run.rglob(".*.tmp"))  # atomic writes leave no temporaries


def test_metrics_jsonl_one_record_per_log_step(tiny_run: Path) -> None:
    lines = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    # Each picture's diversity on its own line (final.png repeats step 20's picture: once).
    assert [r["step"] for r in lines if "preview_diversity" in r] == [10, 20]
    # Where the run trains, first (see tests/launch/test_jobs.py for its fields).
    assert lines[0]["step"] == 0 and lines[0]["device"] == "cpu"
    records = [r for r in lines[1:] if "preview_diversity" not in r]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for r in records:
        assert METRIC_KEYS <= r.keys()
        assert all(math.isfinite(r[k]) for k in METRIC_KEYS)
        assert 0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1  # probabilities for the ns loss
        # JS estimate from D's objective: (V + log 4) / 2 with V = -loss_d, within [.., log 2]
        assert math.isclose(r["divergence"], (math.log(4) - r["loss_d"]) / 2, rel_tol=1e-5)
        assert r["divergence"] <= math.log(2) + 1e-6
        assert r["grad_norm_d"] > 0 and r["grad_norm_g"] > 0 and r["imgs_per_s"] > 0


def test_wgan_gp_logs_wasserstein_estimate(tmp_path: Path) -> None:
    proc = run_cli("train", *TINY, "loss=wgan-gp", "train.steps=5", cwd=tmp_path)
    run = Path(last_line(proc.stdout))
    rec = [
        r
        for x in (run / "metrics.jsonl").read_text().splitlines()
        if "loss_d" in (r := json.loads(x))
    ][-1]
    assert math.isclose(
        rec["divergence"], rec["d_real"] - rec["d_fake"], rel_tol=1e-4, abs_tol=1e-6
    )


def test_points_run_writes_scatter_and_scores_modes(ring_run: Path) -> None:
    with Image.open(ring_run / "samples" / "final.png") as img:
        assert img.size == (500, 500)
    lines = [json.loads(ln) for ln in (ring_run / "metrics.jsonl").read_text().splitlines()]
    scores = [r for r in lines if "modes_captured" in r]
    assert [r["step"] for r in scores] == [10, 20]  # each sample step once, final included
    for r in scores:
        assert r["n_samples"] == 2500 and r["modes_total"] == 8
        assert 0 <= r["modes_captured"] <= 8 and 0 <= r["hq_fraction"] <= 1
    ckpt = torch.load(ring_run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["data_info"] == {
        "name": "ring8",
        "kind": "points",
        "shape": [2],
        "num_classes": 8,
        "cond_shape": None,
    }


def test_multirun_makes_one_folder_per_job(tmp_path: Path) -> None:
    proc = run_cli(
        "train", "-m", *TINY, "train.steps=2", "train.log_every=1", "train.seed=0,1", cwd=tmp_path
    )
    sweep = sorted((tmp_path / "outputs" / "multirun" / "train").glob("*/*/*"))
    jobs = [p for p in sweep if p.is_dir()]
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        assert (job / "checkpoints" / "last.pt").is_file()
        assert (job / "samples" / "final.png").is_file()
    assert Path(last_line(proc.stdout)) == jobs[1]
    seeds = [
        yaml.safe_load((j / ".hydra" / "config.yaml").read_text())["train"]["seed"] for j in jobs
    ]
    assert seeds == [0, 1]


def test_uniform_latent_and_minimax_train(tmp_path: Path) -> None:
    proc = run_cli(
        "train",
        *TINY,
        "loss=minimax",
        "latent.dist=uniform",
        "latent.dim=8",
        "train.steps=3",
        "train.ema=0",
        cwd=tmp_path,
    )
    ckpt = torch.load(Path(last_line(proc.stdout)) / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["G_ema"] is None and ckpt["step"] == 3
    assert ckpt["G"]["net.0.weight"].shape[0] == 8  # latent.dim is G's input width


def test_a_failing_sweep_job_does_not_stop_the_others(tmp_path: Path) -> None:
    proc = run_cli(
        "train", "-m", *TINY, "train.steps=2", "data.resolution=12,8", cwd=tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "power of 2" in proc.stderr and "1 job(s) of the sweep failed" in proc.stderr
    jobs = sorted(
        p for p in (tmp_path / "outputs" / "multirun" / "train").glob("*/*/*") if p.is_dir()
    )
    assert [p.name for p in jobs] == ["0", "1"]
    assert not (jobs[0] / "checkpoints").exists()
    assert (jobs[1] / "checkpoints" / "last.pt").is_file()
