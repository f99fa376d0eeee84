"""Which device each job of a sweep gets (`gancli.launch.jobs`), `cuda:K` and its errors, and
the summary at a sweep's end (`gancli.launch.sweep_summary`). GPUs are simulated: torch.cuda's
answers are replaced, so these run on the CPU."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from gancli.commands import hydra_seam
from gancli.commands.hydra_seam import SweepEnd, failed_jobs
from gancli.errors import GancliError
from gancli.launch import jobs
from gancli.launch.devices import resolve_device
from gancli.launch.jobs import JobDevices, SweepJob, claimed_gpu, gpu_order
from gancli.launch.sweep_summary import best_job, read_jobs
from tests.conftest import run_cli


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimpleNamespace:
    """A machine with 4 simulated GPUs (`fake.count` changes it) whose locks live in tmp_path;
    `fake.current` is what `torch.cuda.set_device` was last given."""
    fake = SimpleNamespace(count=4, current=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: fake.count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: fake.count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda k=0: "Fake GPU")
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda k: SimpleNamespace(uuid=f"uuid-{k}")
    )
    monkeypatch.setattr(torch.cuda, "set_device", lambda k: setattr(fake, "current", k))
    monkeypatch.setenv(jobs.LOCKS_ENV, str(tmp_path / "locks"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return fake


def as_job(num: int | None, parallel: bool = True) -> SweepJob | None:
    """Job `num` of a sweep whose jobs run at once (`parallel`) or not; None: no sweep's."""
    return None if num is None else SweepJob(num, "sweep", parallel)


def test_gpu_order_starts_at_job_mod_count_and_wraps() -> None:
    assert gpu_order(0, 4) == [0, 1, 2, 3]
    assert gpu_order(5, 4) == [1, 2, 3, 0]
    assert gpu_order(7, 1) == [0]


def test_claims_take_the_next_free_gpu_and_share_when_none_is(tmp_path: Path) -> None:
    uuids = ["a", "b", "c"]
    with claimed_gpu(0, uuids, tmp_path) as first, claimed_gpu(3, uuids, tmp_path) as second:
        assert first == (0, False)
        assert second == (1, False)  # job 3 prefers GPU 0, which job 0 holds
        with claimed_gpu(2, uuids, tmp_path) as third, claimed_gpu(4, uuids, tmp_path) as extra:
            assert third == (2, False)
            assert extra == (1, True)  # all three held: job 4 shares GPU 4 mod 3
    with claimed_gpu(3, uuids, tmp_path) as again:
        assert again == (0, False)  # released at the end of the blocks


def test_locks_follow_the_gpu_not_its_index(tmp_path: Path) -> None:
    """Under CUDA_VISIBLE_DEVICES=1,0 index 0 is the other GPU: the lock files are named by
    UUID, so a job of that view does not take the GPU a job of the plain view holds."""
    with claimed_gpu(0, ["GPU-x", "GPU-y"], tmp_path) as plain:
        assert plain == (0, False)  # GPU-x
        with claimed_gpu(1, ["GPU-y", "GPU-x"], tmp_path) as swapped:
            assert swapped == (0, False)  # prefers index 1 = GPU-x, held: takes GPU-y


def test_auto_in_a_sweep_gives_each_job_its_own_gpu(gpus: SimpleNamespace) -> None:
    with JobDevices(as_job(2)) as first:
        assert first.resolve("auto", "train.device") == torch.device("cuda", 2)
        assert gpus.current == 2
        with JobDevices(as_job(6)) as second:  # 6 mod 4 = 2, held by job 2
            assert second.resolve("auto", "train.device") == torch.device("cuda", 3)
            assert second.chosen.describe() == {
                "device": "cuda:3",
                "gpu": "Fake GPU",
                "gpu_shared": False,
                "threads": torch.get_num_threads(),
                "job": 6,
            }
    with JobDevices(as_job(6)) as after:
        assert after.resolve("auto", "train.device") == torch.device("cuda", 2)  # freed


def test_more_jobs_than_gpus_share_predictably(gpus: SimpleNamespace) -> None:
    gpus.count = 2
    held = []
    with ExitStack() as running:  # three jobs at once on two GPUs
        for job in range(3):
            devices = running.enter_context(JobDevices(as_job(job)))
            held.append((devices.resolve("auto", "train.device"), devices.chosen.shared))
    assert held == [
        (torch.device("cuda", 0), False),
        (torch.device("cuda", 1), False),
        (torch.device("cuda", 0), True),
    ]


def test_jobs_run_one_after_another_start_from_gpu_0(gpus: SimpleNamespace) -> None:
    for job in (1, 2):
        with JobDevices(as_job(job, parallel=False)) as devices:
            assert devices.resolve("auto", "train.device") == torch.device("cuda", 0)
            # Another sweep's job, running now: it prefers GPU 4 mod 4, held, so takes 1.
            with JobDevices(as_job(4, parallel=True)) as other:
                assert other.resolve("auto", "train.device") == torch.device("cuda", 1)


@pytest.mark.parametrize(
    ("launcher", "parallel"),
    [
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, False),
        (
            {
                "_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
                "n_jobs": 1,
            },
            False,
        ),
        (
            {
                "_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
                "n_jobs": -1,
            },
            True,
        ),
        (
            {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"},
            True,
        ),
    ],
)
def test_which_launchers_run_jobs_at_once(
    launcher: dict, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(
        HydraConfig, "get", staticmethod(lambda: OmegaConf.create({"launcher": launcher}))
    )
    assert hydra_seam.parallel_sweep() is parallel


def test_outside_a_sweep_or_with_an_explicit_device_nothing_is_claimed(
    gpus: SimpleNamespace, tmp_path: Path
) -> None:
    with JobDevices(as_job(None)) as devices:
        assert devices.resolve("auto", "train.device") == torch.device("cuda", 0)
    with JobDevices(as_job(1)) as devices:
        assert devices.resolve("cuda:3", "train.device") == torch.device("cuda", 3)
        assert gpus.current == torch.device("cuda", 3)  # what names no index goes there too
        assert devices.resolve("cpu", "train.device") == torch.device("cpu")
    assert not (tmp_path / "locks").exists() or not any((tmp_path / "locks").iterdir())


def test_cuda_k_picks_one_gpu_and_a_missing_one_lists_the_visible(
    gpus: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpus.count = 2
    assert resolve_device("cuda:1", "eval.device") == torch.device("cuda", 1)
    assert resolve_device("cuda", "train.device") == torch.device("cuda", 0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    with pytest.raises(GancliError) as err:
        resolve_device("cuda:2", "sample.device")
    assert str(err.value) == (
        "sample.device=cuda:2 but GPUs are numbered from 0 and 2 visible: "
        "cuda:0 (Fake GPU), cuda:1 (Fake GPU) (CUDA_VISIBLE_DEVICES=4,5); "
        "choose one of them, or sample.device=auto"
    )
    gpus.count = 0
    with pytest.raises(GancliError, match="^train.device=cuda:0 but no CUDA GPU is visible"):
        resolve_device("cuda:0", "train.device")


def test_eval_on_a_missing_gpu_is_one_line(tiny_run: Path, tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run_cli("eval", f"ckpt={tiny_run}", "eval.device=cuda:1", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert (
        "eval.device=cuda:1 but no CUDA GPU is visible; use eval.device=auto or cpu"
        in result.stderr
    )


def write_job(folder: Path, **record: object) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- loss=ns\n- train.seed={record['job']}\n")
    (folder / "job.json").write_text(json.dumps(record))


def test_summary_names_each_job_and_the_best_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep = tmp_path / "sweep"
    base = {
        "gpu": "Fake GPU",
        "gpu_shared": False,
        "threads": 8,
        "higher": False,
        "metric": "fid",
        "error": None,
    }
    write_job(sweep / "0", job=0, device="cuda:0", seconds=12.0, status="done", value=40.5, **base)
    write_job(sweep / "1", job=1, device="cuda:1", seconds=11.0, status="done", value=31.25, **base)
    write_job(
        sweep / "2",
        job=2,
        device="cuda:0",
        seconds=3.0,
        status="failed",
        value=None,
        **{**base, "error": "loss_d became nan"},
    )
    assert best_job(read_jobs(sweep))["folder"] == str(sweep / "1")
    failed_jobs.clear()
    SweepEnd().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["best"] == str(sweep / "1")
    assert [(j["job"], j["device"], j["status"]) for j in summary["jobs"]] == [
        (0, "cuda:0", "done"),
        (1, "cuda:1", "done"),
        (2, "cuda:0", "failed"),
    ]
    text = capsys.readouterr().err
    assert "train.seed=1" in text and "loss=ns" not in text  # what differs, not what is shared
    assert "fid 31.25 *" in text and "cuda:1 (Fake GPU)" in text
    assert f"best run (*): {sweep / '1'}" in text
    assert "job 2: loss_d became nan" in text
    assert failed_jobs == [str(sweep / "2")]  # the command exits non-zero for it
    failed_jobs.clear()


def test_best_run_of_a_higher_is_better_metric() -> None:
    done = [
        {"folder": f, "status": "done", "metric": "match_accuracy", "higher": True, "value": v}
        for f, v in (("a", 0.5), ("b", 0.9), ("c", float("nan")))
    ]
    assert best_job(done)["folder"] == "b"
    assert best_job([{**done[0], "status": "failed"}]) is None


def test_single_runs_write_no_job_record(tiny_run: Path) -> None:
    assert not (tiny_run / "job.json").exists()
    first = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[0])
    assert first.pop("threads_choice").startswith("auto: ")  # gancli.threads (test_threads.py)
    assert first == {
        "step": 0,
        "device": "cpu",
        "gpu": None,
        "gpu_shared": False,
        "threads": torch.get_num_threads(),
        "job": None,
        "precision": "fp32",
        "precision_choice": "given",
        "channels_last": False,
        "channels_last_choice": "given",
    }


OPTUNA = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


@pytest.mark.parametrize(
    ("sweeper", "expected"),
    [
        ({"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}, "nan"),
        ({"_target_": OPTUNA, "direction": "minimize"}, "inf"),
        ({"_target_": OPTUNA, "direction": "maximize"}, "-inf"),
    ],
)
def test_a_failed_job_returns_a_value_its_sweeper_takes(
    sweeper: dict, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Optuna plugin crashes the search on a NaN: it gets the worst value instead."""
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(
        HydraConfig, "get", staticmethod(lambda: OmegaConf.create({"sweeper": sweeper}))
    )
    assert str(hydra_seam.failed_value()) == expected
