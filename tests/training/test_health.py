"""Training-health alerts on synthetic metric streams with known answers, and on a real run made
to fail (D's learning rate far above G's)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gancli.checkpoint import load_checkpoint
from gancli.losses import GANLoss, build_loss
from gancli.training.health import PATIENCE, Health
from gancli.training.loop import Trainer
from gancli.training.monitor import Monitor
from tests.conftest import TINY, compose_train, run_cli


def loss(name: str) -> GANLoss:
    """The objective `loss=name` as a run would build it."""
    return build_loss(compose_train(f"loss={name}").loss)


def fired(health: Health, records: list[dict]) -> list[tuple[int, str]]:
    return [(a.step, a.name) for r in records for a in health.update(r)]


def train_record(
    step: int, d_real: float = 0.6, d_fake: float = 0.4, g: float = 0.1, d: float = 0.5
) -> dict:
    return {
        "step": step,
        "d_real": d_real,
        "d_fake": d_fake,
        "divergence": 0.1,
        "grad_norm_g": g,
        "grad_norm_d": d,
    }


def test_d_wins_fires_once_per_episode() -> None:
    health = Health(loss("ns"))
    winning = [train_record(s, d_real=0.99, d_fake=0.01) for s in range(1, 9)]
    calm = [train_record(s) for s in range(9, 11)]
    again = [train_record(s, d_real=0.99, d_fake=0.01) for s in range(11, 16)]
    assert fired(health, winning + calm + again) == [
        (PATIENCE, "d_wins"),
        (10 + PATIENCE, "d_wins"),
    ]


def test_js_pinned_at_log_2_is_d_winning_for_the_js_losses_only() -> None:
    pinned = [{**train_record(s), "divergence": 0.685} for s in range(1, 5)]
    assert fired(Health(loss("ns")), pinned) == [(PATIENCE, "d_wins")]
    assert fired(Health(loss("wgan-gp")), pinned) == []  # there it is a Wasserstein estimate


def test_a_critics_raw_scores_are_not_read_as_probabilities() -> None:
    """A Wasserstein critic's D(x) near 1 and D(G(z)) near 0 are scores whose size says nothing
    about who wins; the same values from the non-saturating loss are D's near-certainty."""
    scores = [train_record(s, d_real=0.99, d_fake=0.01) for s in range(1, 5)]
    assert fired(Health(loss("wgan-gp")), scores) == []
    assert fired(Health(loss("wgan-clip")), scores) == []
    assert fired(Health(loss("ns")), scores) == [(PATIENCE, "d_wins")]


def test_vanishing_and_exploding_gradients() -> None:
    vanishing = [train_record(s, g=1e-8) for s in range(1, 5)]
    assert fired(Health(loss("ns")), vanishing) == [(PATIENCE, "vanishing_g")]
    steady = [train_record(s, d=1.0) for s in range(1, 6)]
    spike = [train_record(6, d=500.0)]
    assert fired(Health(loss("ns")), steady + spike) == [(6, "exploding_grad")]
    assert fired(Health(loss("ns")), steady + [train_record(6, d=float("inf"))]) == [
        (6, "exploding_grad")
    ]
    zeros = [train_record(s, d=0.0) for s in range(1, 6)]  # a median of 0 is no division error
    assert fired(Health(loss("ns")), zeros + [train_record(6, d=1.0)]) == [(6, "exploding_grad")]


def test_mode_collapse_from_the_pictures_scores() -> None:
    health = Health(loss("ns"))
    scores = [
        {"step": s, "modes_captured": k, "modes_total": 8, "hq_fraction": 0.9}
        for s, k in ((500, 8), (1000, 3), (1500, 2), (2000, 1), (2500, 8))
    ]
    assert fired(health, scores) == [(2000, "mode_collapse")]


def test_mode_collapse_of_images_from_the_training_pictures_diversity() -> None:
    # The embedded default's pictures (sample_every=50): alike at first, then about 0.78 of
    # the real digits' diversity. No alert: they rose, they did not fall.
    start = [(50, 0.27), (100, 0.31), (150, 0.54), (200, 0.68), (250, 0.74), (300, 0.77)]
    assert fired(Health(loss("ns")), [{"step": s, "preview_diversity": r} for s, r in start]) == []
    alike = [{"step": s, "preview_diversity": 0.27} for s in range(9)]
    assert fired(Health(loss("ns")), alike) == []
    ratios = [
        (500, 0.78),
        (1000, 0.3),
        (1500, 0.2),
        (2000, 0.05),
        (2500, 0.7),
        (3000, 0.1),
        (3500, 0.1),
        (4000, 0.1),
    ]
    assert fired(Health(loss("ns")), [{"step": s, "preview_diversity": r} for s, r in ratios]) == [
        (2000, "mode_collapse"),
        (4000, "mode_collapse"),
    ]


def test_no_progress_of_the_primary_metric() -> None:
    health = Health(loss("ns"))
    values = [
        (10, 50.0, None),
        (20, 40.0, True),
        (30, 41.0, False),
        (40, 42.0, False),
        (50, 43.0, False),
        (60, 44.0, False),
        (70, 45.0, False),
    ]
    alerts = [(a.step, a.name) for s, v, b in values for a in health.update_eval(s, v, b)]
    assert alerts == [(60, "no_progress")]


FAILING = [
    *[a for a in TINY if not a.startswith(("train.steps", "train.log_every"))],
    "train.steps=200",
    "train.log_every=20",
    "optim.lr_d=0.005",
    "optim.lr_g=0.000001",
]


def test_the_default_runs_values_raise_no_alert() -> None:
    """D(x), D(G(z)) and the JS estimate of the embedded default's healthy run at its most
    D-favoured logged steps (2700 to 2900 of 3000): no alert."""
    strong = [
        {**train_record(s, d_real=r, d_fake=f), "divergence": js}
        for s, r, f, js in (
            (2700, 0.973, 0.027, 0.66),
            (2800, 0.970, 0.048, 0.65),
            (2900, 0.964, 0.023, 0.663),
        )
    ]
    assert fired(Health(loss("ns")), strong) == []


def test_a_run_where_d_wins_is_alerted(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = run_cli("train", *FAILING, f"hydra.run.dir={run}", cwd=tmp_path)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    alerts = [x for x in lines if "alert" in x]
    assert [a["alert"] for a in alerts] == ["d_wins"]
    assert "alert d_wins" in proc.stderr and "try: lower optim.lr_d" in proc.stderr


def test_stop_on_ends_the_run_with_one_line_and_a_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = run_cli(
        "train",
        *FAILING,
        "train.stop_on=[d_wins]",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("gancli: error")]
    assert "by the d_wins alert" in line and "train.stop_on" in line
    assert 20 <= load_checkpoint(run)["step"] < 200
    bad = run_cli("train", *TINY, "train.stop_on=[d_wons]", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "unknown alert (train.stop_on) 'd_wons'" in bad.stderr


def test_a_generator_that_collapses_to_one_image_is_alerted(tmp_path: Path) -> None:
    """The real path: the training picture's diversity, measured against the real digits,
    recorded and watched."""
    trainer = Trainer(compose_train(*TINY, "train.ema=0"), tmp_path)
    with Monitor(tmp_path, 0, 10, health=trainer.health) as monitor:
        with torch.no_grad():
            for p in trainer.gan.sampler.parameters():
                p.normal_()  # large random weights: each latent its own image
            trainer.write_samples("step_0.png", monitor)
            for p in trainer.gan.sampler.parameters():
                p.zero_()  # G now draws one image whatever its latent
        for trainer.step in range(1, 1 + PATIENCE):
            trainer.write_samples(f"step_{trainer.step}.png", monitor)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    diversity = [x["preview_diversity"] for x in lines if "preview_diversity" in x]
    assert diversity[0] > 0.4 and diversity[1:] == [0.0] * PATIENCE
    assert [(x["step"], x["alert"]) for x in lines if "alert" in x] == [(PATIENCE, "mode_collapse")]
