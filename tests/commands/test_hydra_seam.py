"""The seam between gancli and Hydra (`gancli.commands.hydra_seam`): one module reads Hydra's
state and answers "is this a multirun?"; the commands declare what they are; the code below
them takes plain values; and imports run one way, from the dispatcher down."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gancli import cli
from gancli.commands import Command, hydra_seam
from gancli.launch.jobs import SweepJob

PACKAGE = Path(__file__).resolve().parents[2] / "gancli"
SEAM = PACKAGE / "commands" / "hydra_seam.py"


def imports(path: Path, prefix: str = "gancli") -> set[str]:
    """Every module of `prefix` that `path` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {name for name in found if name.startswith(prefix)}


def test_only_the_seam_reads_hydras_state() -> None:
    """Hydra's job state (`HydraConfig`, `RunMode`: the run folder, the sweep, "multirun?")
    is read in one module; every other asks it or is handed the answer."""
    readers = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "HydraConfig" in p.read_text() or "RunMode" in p.read_text()
    )
    assert readers == ["commands/hydra_seam.py"]
    errors = PACKAGE / "errors.py"
    assert not imports(errors, prefix="hydra")
    assert "failed_jobs" not in errors.read_text()  # the error types only


def test_multirun_is_answered_by_the_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    assert not hydra_seam.multirun() and hydra_seam.sweep_job() is None  # outside Hydra
    state = {
        "mode": RunMode.MULTIRUN,
        "job": {"num": 3},
        "sweep": {"dir": "/s/weep"},
        "launcher": {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"},
    }
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: OmegaConf.create(state)))
    assert hydra_seam.multirun()
    assert hydra_seam.sweep_job() == SweepJob(3, "/s/weep", parallel=False)
    state["mode"] = RunMode.RUN
    assert not hydra_seam.multirun() and hydra_seam.sweep_job() is None
    for args, sweeping in (
        (["-m", "a=1,2"], True),
        (["--multirun"], True),
        (["hparams_search=optuna"], True),
        (["+hydra.mode=multirun"], True),
        (["hparams_search=null", "train.seed=1"], False),
    ):
        assert hydra_seam.sweeps(args) is sweeping


def test_mlflow_names_its_run_from_the_sweep_job_it_is_given(tmp_path: Path) -> None:
    """Outside Hydra (nothing to ask it), the logger still files a sweep job's run under its
    sweep: the command hands it the job as plain values."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from gancli.training.loggers.mlflow import MLflowLogger

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    opts = OmegaConf.create({"tracking_uri": uri, "experiment": None, "log_checkpoint": False})
    logger = MLflowLogger(
        opts,
        OmegaConf.create({"train": {"seed": 1}}),
        tmp_path,
        0,
        SweepJob(7, "/sweeps/a", parallel=True),
    )
    logger.finish("FINISHED", {}, tmp_path)
    run = MlflowClient(uri).get_run(logger.run_id)
    assert run.info.run_name == "7"
    assert MlflowClient(uri).get_experiment(run.info.experiment_id).name == "/sweeps/a"


def test_every_command_declares_what_it_is() -> None:
    for name, (module, _) in cli.COMMANDS.items():
        declared = importlib.import_module(module).COMMAND
        assert isinstance(declared, Command), name
        assert (declared.app is None) != (declared.dispatch is None), name
    with pytest.raises(TypeError, match="Hydra app or a dispatch function"):
        Command()


def test_imports_run_from_the_dispatcher_down() -> None:
    """Nothing imports the dispatcher; only commands import commands; the launch plumbing
    imports neither the commands nor what they run."""
    above_launch = (
        "gancli.cli",
        "gancli.commands",
        "gancli.training",
        "gancli.evaluation",
        "gancli.data",
        "gancli.sampling",
        "gancli.report",
    )
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(PACKAGE))
        found = imports(path)
        if where != "__main__.py":
            assert "gancli.cli" not in found, where
        if not where.startswith(("commands/", "cli.py")):
            assert not any(m.startswith("gancli.commands") for m in found), where
        if where.startswith("launch/"):
            assert not any(m.startswith(above_launch) for m in found), where


def test_a_sweeps_unfinished_jobs_count_as_failed_once(tmp_path: Path) -> None:
    """The sweep callback adds the summary's unfinished jobs to the seam's list, but not a
    job `reported` already noted."""
    for num, status in enumerate(("done", "failed", "stopped")):
        (tmp_path / str(num)).mkdir()
        (tmp_path / str(num) / "job.json").write_text(f'{{"job": {num}, "status": "{status}"}}')
    hydra_seam.failed_jobs[:] = [str(tmp_path / "1")]
    try:
        hydra_seam.SweepEnd().on_multirun_end(
            OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
        )
        assert hydra_seam.failed_jobs == [str(tmp_path / "1"), str(tmp_path / "2")]
    finally:
        hydra_seam.failed_jobs.clear()
