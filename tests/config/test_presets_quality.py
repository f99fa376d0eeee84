"""Quality targets of the 2D presets (slow: minutes): modes and high-quality fraction from
2,500 samples, averaged over seeds 0, 1, 2, as in the catalog issue."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from tests.conftest import last_line, run_cli

pytestmark = pytest.mark.slow


def final_scores(run: Path) -> dict:
    lines = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in lines if "modes_captured" in r][-1]


@pytest.mark.parametrize("preset, min_modes, min_hq", [("ring8", 8, 0.90), ("grid25", 24, 0.85)])
def test_preset_reaches_its_target(
    preset: str, min_modes: float, min_hq: float, tmp_path: Path
) -> None:
    scores = []
    for seed in (0, 1, 2):
        proc = run_cli("train", f"experiment={preset}", f"train.seed={seed}", cwd=tmp_path)
        scores.append(final_scores(Path(last_line(proc.stdout))))
    assert all(s["n_samples"] == 2500 for s in scores)
    modes = statistics.mean(s["modes_captured"] for s in scores)
    hq = statistics.mean(s["hq_fraction"] for s in scores)
    assert modes >= min_modes and hq >= min_hq, (preset, scores)
