"""Sweeps that scale out: Hydra's joblib launcher (local parallel jobs) and the Optuna sweeper
(`hparams_search=optuna`), both from the `sweeps` extra."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import TINY, run_cli


def needs_plugin(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[sweeps]')")


def test_joblib_launcher_runs_two_jobs_in_parallel_processes(tmp_path: Path) -> None:
    needs_plugin("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    run_cli("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
               "train.seed=0,1", *TINY, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    seeds = []
    for job in ("0", "1"):
        ckpt = torch.load(sweep / job / "checkpoints" / "last.pt", weights_only=True)
        assert ckpt["step"] == 20
        seeds.append(yaml.safe_load(ckpt["config"])["train"]["seed"])
    assert seeds == [0, 1]


def test_optuna_search_runs_trials_and_reports_the_best(tmp_path: Path) -> None:
    needs_plugin("hydra_plugins.hydra_optuna_sweeper")
    sweep = tmp_path / "search"
    run_cli("train", "hparams_search=optuna", "hydra.sweeper.n_trials=3", *TINY,
               f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["0", "1", "2"]
    trials = [yaml.safe_load((sweep / j / ".hydra" / "config.yaml").read_text()) for j in jobs]
    for cfg in trials:  # the search space of conf/hparams_search/optuna.yaml
        assert 1e-5 <= cfg["optim"]["lr_g"] <= 1e-3 and 1e-5 <= cfg["optim"]["lr_d"] <= 1e-3
        assert cfg["train"]["n_critic"] in (1, 2, 5)
    assert len({c["optim"]["lr_g"] for c in trials}) == 3  # a search, not one point
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"optim.lr_g", "optim.lr_d", "train.n_critic",
                                        "loss.r1_gamma"}
    assert isinstance(best["best_value"], float)
