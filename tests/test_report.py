"""`python -m gancli.report`: the comparison table averages seeds and pastes seed 0's pictures."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from PIL import Image

from gancli.report import main


def fake_job(root: Path, num: int, loss: str, data: str, seed: int, modes: int,
             hq: float, finished: bool = True) -> None:
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / "samples").mkdir()
    cfg = {"data": {"name": data}, "loss": {"name": loss, "divergence": "kl"},
           "train": {"seed": seed}}
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    lines = [{"step": 10, "loss_d": 1.0, "elapsed_s": 12.0},
             {"step": 10, "modes_captured": modes, "modes_total": 8, "hq_fraction": hq,
              "reverse_kl": 0.1, "n_samples": 2500}]
    (job / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    if finished:  # a diverged run stops before its final picture
        Image.new("RGB", (50, 40), "red").save(job / "samples" / "final.png")


def test_table_averages_over_seeds_and_figures_per_loss(tmp_path: Path) -> None:
    fake_job(tmp_path, 0, "ns", "ring8", 0, 8, 0.9)
    fake_job(tmp_path, 1, "ns", "ring8", 1, 6, 0.7)
    fake_job(tmp_path, 2, "ns", "grid25", 0, 8, 0.5)
    fake_job(tmp_path, 3, "fgan", "ring8", 0, 8, 1.0)
    fake_job(tmp_path, 4, "fgan", "ring8", 1, 1, 0.1, finished=False)
    fake_job(tmp_path, 5, "lsgan", "ring8", 0, 1, 0.1, finished=False)
    assert main([str(tmp_path)]) == 0
    table = (tmp_path / "compare.md").read_text()
    assert "| ns | ring8 | 2 | 0 | 7.0 / 8 | 80.0 | 0.100 | 12 |" in table
    assert "| fgan-kl | ring8 | 2 | 1 | 8.0 / 8 | 100.0 |" in table  # the diverged seed is out
    assert "| lsgan | ring8 | 1 | 1 | — | — | — | — |" in table
    assert not (tmp_path / "compare_lsgan.png").exists()
    with Image.open(tmp_path / "compare_ns.png") as img:
        assert img.size == (100, 40)  # grid25 and ring8 seed-0 pictures side by side
    assert (tmp_path / "compare_fgan-kl.png").is_file()
