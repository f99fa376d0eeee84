"""The results of docs/results.md against their targets (slow: minutes to an hour each): the
embedded default and the WGAN-GP line draw recognisable digits of every class, and the Stacked MNIST
preset covers the modes on the VEEGAN / PacGAN protocol. The 2D presets' targets are in
tests/config/test_presets_quality.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import last_line, run_cli

pytestmark = pytest.mark.slow

#: The embedded default's floor: the share of 2,000 samples the digits classifier names with
#: p ≥ 0.9 (0.759 and 0.739 on seeds 0 and 1 with the fast path, 10,000 steps; 6,000 fp32 steps:
#: 0.753 and 0.730; the textbook DCGAN loop of this budget: 0.56). Issue 25's target of 0.8 is
#: not reached by any recipe measured (docs/results.md "The default run").
DEFAULT_HQ = 0.70


def digit_scores(tmp_path: Path, *train_args: str) -> dict:
    """Train on the embedded default's data with `train_args`, then score 2,000 samples of the
    final (EMA) G with the digits classifier."""
    run = last_line(run_cli("train", *train_args, cwd=tmp_path).stdout)
    out = Path(
        last_line(
            run_cli(
                "eval", f"ckpt={run}", "eval.metrics=[modes]", "eval.n=2000", cwd=tmp_path
            ).stdout
        )
    )
    return json.loads(out.read_text())


def test_the_default_run_draws_recognisable_digits_of_every_class(tmp_path: Path) -> None:
    scores = digit_scores(tmp_path)
    assert scores["modes_captured"] == 10 and scores["hq_fraction"] >= DEFAULT_HQ, scores


#: `gancli train model=dcgan loss=wgan-gp` as typed, in the default run's time (its recipe:
#: conf/recipe/loss/wgan-gp.yaml with conf/recipe/wgan/digits_dcgan.yaml): 0.699 and 0.724 on
#: seeds 0 and 1 (the line before the recipe, one critic update per G update with batch norm in
#: D, which a per-sample penalty forbids: 0.759 on seed 0 in 1.4 times the default's time).
WGAN_GP_HQ = 0.67


def test_the_wgan_gp_line_draws_recognisable_digits_of_every_class(tmp_path: Path) -> None:
    scores = digit_scores(tmp_path, "model=dcgan", "loss=wgan-gp")
    assert scores["modes_captured"] == 10 and scores["hq_fraction"] >= WGAN_GP_HQ, scores


#: What seed 0 of experiment=stacked_mnist reaches today, below which it has regressed: more
#: modes and a lower KL than every published baseline but PacGAN's (DCGAN 99 / 3.4, VEEGAN
#: 150 / 2.95). Issue 16's target, 1,000 modes at KL ≤ 0.05 (PacDCGAN2: 1,000 / 0.06), is not
#: met yet: see docs/results.md.
STACKED_MODES, STACKED_KL = 990, 0.5


def test_stacked_mnist_preset_covers_the_modes(mnist_root: Path, tmp_path: Path) -> None:
    """Seed 0 of the preset (an hour and more on a 2-core CPU), scored by its own final
    evaluation on the protocol: 26,000 samples, through a classifier ≥ 99% per digit."""
    run = Path(
        last_line(
            run_cli(
                "train", "experiment=stacked_mnist", f"data.root={mnist_root}", cwd=tmp_path
            ).stdout
        )
    )
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in records if "modes_captured" in r][-1]
    assert final["n_samples"] == 26000 and final["classifier_test_accuracy"] >= 0.99
    assert final["modes_captured"] >= STACKED_MODES and final["reverse_kl"] <= STACKED_KL, final
