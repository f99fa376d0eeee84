"""Sweeps that scale out: Hydra's joblib launcher (local parallel jobs) and the Optuna sweeper
(`hparams_search=optuna`), both from the `sweeps` extra."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from gancli.launch.sweep_summary import NO_SCORE, best_job, render
from tests.conftest import TINY, run_cli


def needs_plugin(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[sweeps]')")


def test_joblib_launcher_runs_two_jobs_in_parallel_processes(tmp_path: Path) -> None:
    """Each job records where it ran (device, threads: loky gives each of n_jobs workers
    cores // n_jobs), and the sweep ends with its summary."""
    needs_plugin("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    result = run_cli(
        "train",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "train.seed=0,1",
        *TINY,
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    seeds = []
    threads = max(1, (os.cpu_count() or 1) // 2)
    for job in (0, 1):
        folder = sweep / str(job)
        ckpt = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
        assert ckpt["step"] == 20
        seeds.append(yaml.safe_load(ckpt["config"])["train"]["seed"])
        where = json.loads((folder / "metrics.jsonl").read_text().splitlines()[0])
        # train.threads=auto keeps within loky's OMP_NUM_THREADS (gancli.threads)
        assert where.pop("threads_choice").startswith(f"auto: {threads} (")
        assert where == {
            "step": 0,
            "device": "cpu",
            "gpu": None,
            "gpu_shared": False,
            "threads": threads,
            "job": job,
            "precision": "fp32",
            "precision_choice": "given",
            "channels_last": False,
            "channels_last_choice": "given",
        }
        record = json.loads((folder / "job.json").read_text())
        assert record["status"] == "done" and record["device"] == "cpu"
        assert record["metric"] == "divergence" and isinstance(record["value"], float)
    assert seeds == [0, 1]
    summary = json.loads((sweep / "summary.json").read_text())
    assert [j["job"] for j in summary["jobs"]] == [0, 1]
    # Without train.eval_every the jobs return divergence estimates: no best run.
    assert summary["best"] is None and NO_SCORE in result.stderr


def test_divergence_estimates_crown_no_run_and_scores_do() -> None:
    """A JS estimate and a hinge gap are different quantities: jobs that returned them are
    not ranked, and the summary says how to get a score; jobs with eval.primary are."""
    jobs = [
        {
            "folder": f,
            "job": i,
            "status": "done",
            "metric": "divergence",
            "higher": False,
            "value": v,
            "overrides": [f"loss={f}"],
        }
        for i, (f, v) in enumerate((("ns", 0.3), ("hinge", 0.01)))
    ]
    assert best_job(jobs) is None
    assert render(jobs, None).endswith(NO_SCORE) and "train.eval_every" in NO_SCORE
    scored = {
        "folder": "wgan",
        "job": 2,
        "status": "done",
        "metric": "fid",
        "higher": False,
        "value": 40.0,
        "overrides": ["loss=wgan"],
    }
    assert best_job([*jobs, scored]) is scored


def test_optuna_runs_parallel_trials_on_a_study_that_a_second_search_continues(
    tmp_path: Path,
) -> None:
    """hydra.sweeper.n_jobs=2: two trials at once (joblib processes) on the default SQLite
    study; the same command again adds its trials to that study."""
    needs_plugin("hydra_plugins.hydra_optuna_sweeper")
    import optuna

    first, second = tmp_path / "search", tmp_path / "again"
    run_cli(
        "train",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        *TINY,
        f"hydra.sweep.dir={first}",
        cwd=tmp_path,
    )
    trials = [
        yaml.safe_load((first / j / ".hydra" / "config.yaml").read_text()) for j in ("0", "1")
    ]
    for cfg in trials:  # the search space of conf/hparams_search/optuna.yaml
        assert 1e-5 <= cfg["optim"]["lr_g"] <= 1e-3 and 1e-5 <= cfg["optim"]["lr_d"] <= 1e-3
        assert cfg["train"]["n_critic"] in (1, 2, 5)
    assert trials[0]["optim"]["lr_g"] != trials[1]["optim"]["lr_g"]  # a search, not one point
    pids = {json.loads((first / j / "job.json").read_text())["pid"] for j in ("0", "1")}
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
    storage = f"sqlite:///{tmp_path}/outputs/optuna/gancli-digits-dcgan-ns.db"
    assert len(optuna.load_study(study_name="gancli-digits-dcgan-ns", storage=storage).trials) == 2

    run_cli(
        "train",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=1",
        *TINY,
        f"hydra.sweep.dir={second}",
        cwd=tmp_path,
    )
    study = optuna.load_study(study_name="gancli-digits-dcgan-ns", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    best = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {
        "optim.lr_g",
        "optim.lr_d",
        "train.n_critic",
        "loss.r1_gamma",
    }
    assert best["best_value"] == min(t.value for t in study.trials)  # over both searches


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_parallel_jobs_train_on_separate_gpus(tmp_path: Path) -> None:
    """The real thing, where a machine has the GPUs: two joblib jobs, device=auto, two GPUs."""
    needs_plugin("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    run_cli(
        "train",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "train.seed=0,1",
        *[a for a in TINY if a != "train.device=cpu"],
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    devices = {json.loads((sweep / j / "job.json").read_text())["device"] for j in ("0", "1")}
    assert devices == {"cuda:0", "cuda:1"}
