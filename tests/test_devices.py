"""Right on CUDA before it runs there: what moves between devices (random states, checkpoints)
and what records where it ran, checked on the CPU with a simulated GPU where one is needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gancli.data.points import sample_mixture
from tests.conftest import last_line, run_cli


def test_eval_json_records_the_device(tmp_path: Path) -> None:
    path = tmp_path / "points.npz"
    np.savez(path, points=sample_mixture("ring8", 500, seed=5).rows.numpy())
    proc = run_cli("eval", f"samples={path}", "data=ring8", "eval.device=cpu",
                   f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert json.loads(Path(last_line(proc.stdout)).read_text())["device"] == "cpu"
