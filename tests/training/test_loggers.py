"""The `logger=` group: TensorBoard event files and MLflow runs, read back with each tool's own
reader; alerts reach the loggers; a logger that cannot start stops the run before it trains."""

from __future__ import annotations

import importlib.util
import json
from contextlib import nullcontext
from pathlib import Path

import pytest
from PIL import Image

from gancli.training.health import Alert
from gancli.training.loggers import Logger, Loggers
from gancli.training.monitor import Monitor
from tests.conftest import TINY, last_line, run_cli


def events(run: Path):  # noqa: ANN201  (tensorboard's EventAccumulator, imported here)
    """The run's TensorBoard events, read by TensorBoard's own reader (imported only here:
    every test worker collects this module)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = EventAccumulator(
        str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0}
    )
    found.Reload()
    return found


def test_tensorboard_has_every_scalar_the_sample_grids_the_config_and_hparams(
    tmp_path: Path,
) -> None:
    run = Path(last_line(run_cli("train", *TINY, "logger=tensorboard", cwd=tmp_path).stdout))
    found = events(run)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in lines if "loss_d" in r]
    assert [e.step for e in found.Scalars("train/loss_d")] == [r["step"] for r in train]
    assert [e.value for e in found.Scalars("train/loss_d")] == pytest.approx(
        [r["loss_d"] for r in train]
    )
    assert [e.step for e in found.Scalars("eval/preview_diversity")] == [10, 20]
    width = Image.open(run / "samples" / "step_10.png").width
    assert [(e.step, e.width) for e in found.Images("samples")] == [(10, width), (20, width)]
    assert [e.step for e in found.Images("samples/final")] == [20]
    config = found.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "loss:\n      name: ns" in config
    assert found.PluginTagToContent("hparams")  # the HPARAMS tab's experiment and session
    assert found.Scalars("hparam/eval/preview_diversity")[0].value == pytest.approx(
        [r for r in lines if "preview_diversity" in r][-1]["preview_diversity"]
    )


def test_mlflow_puts_a_sweeps_jobs_in_one_experiment_and_a_resumed_run_in_its_own(
    tmp_path: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    sweep = tmp_path / "sweep"
    run_cli(
        "train",
        "-m",
        *TINY,
        "train.seed=0,1",
        "logger=mlflow",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    client = MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(str(sweep))
    runs = {r.data.params["train.seed"]: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["0", "1"]
    first = runs["0"]
    assert first.info.status == "FINISHED" and first.info.run_name == "0"
    assert first.data.params["loss.name"] == "ns" and first.data.params["train.steps"] == "20"
    history = client.get_metric_history(first.info.run_id, "train/loss_d")
    assert [m.step for m in history] == [5, 10, 15, 20]
    assert {a.path for a in client.list_artifacts(first.info.run_id)} == {
        "checkpoints",
        "metrics.jsonl",
        "samples",
    }
    assert {a.path for a in client.list_artifacts(first.info.run_id, "samples")} == {
        "samples/step_10.png",
        "samples/step_20.png",
        "samples/final.png",
    }

    # Continued to 30 steps: the same MLflow run, its metrics carried on.
    run_cli("train", f"resume={sweep / '0'}", "train.steps=30", "logger=mlflow", cwd=tmp_path)
    again = client.get_run(first.info.run_id)
    assert again.info.status == "FINISHED" and again.data.tags["gancli.resumed_at_step"] == "20"
    assert [m.step for m in client.get_metric_history(first.info.run_id, "train/loss_d")] == [
        5,
        10,
        15,
        20,
        25,
        30,
    ]
    assert len(client.search_runs([experiment.experiment_id])) == 2


class Recording(Logger):
    """Keeps what a logger is told."""

    def __init__(self) -> None:
        self.told: list[tuple] = []

    def metrics(self, step: int, values: dict) -> None:
        self.told.append(("metrics", step, dict(values)))

    def image(self, tag: str, path: Path, step: int) -> None:
        self.told.append(("image", tag, path.name, step))

    def alert(self, alert: Alert) -> None:
        self.told.append(("alert", alert.name, alert.step))

    def finish(self, status: str, summary: dict, run_dir: Path) -> None:
        self.told.append(("finish", status, summary))


@pytest.mark.parametrize(
    "ending, status",
    [(None, "FINISHED"), (SystemExit(130), "KILLED"), (RuntimeError("boom"), "FAILED")],
)
def test_monitor_tells_the_loggers_everything_and_how_the_run_ended(
    tmp_path: Path, ending: BaseException | None, status: str
) -> None:
    logger = Recording()
    with pytest.raises(type(ending)) if ending else nullcontext():
        with Monitor(tmp_path, 0, 10, loggers=Loggers([logger])) as monitor:
            monitor.record(
                {
                    "step": 5,
                    "loss_d": 1.0,
                    "loss_g": 2.0,
                    "d_real": 0.5,
                    "d_fake": 0.5,
                    "divergence": 0.1,
                    "imgs_per_s": 9.0,
                }
            )
            monitor.record_eval(5, {"fid": 12.5, "dataset": "digits", "memorization_flag": False})
            monitor.picture(tmp_path / "samples" / "step_5.png", 5)
            monitor.picture(tmp_path / "samples" / "final.png", 5)
            monitor.alerts([Alert("d_wins", 5, "D(x) 0.99", "lower optim.lr_d")])
            if ending:
                raise ending
    assert logger.told[:5] == [
        (
            "metrics",
            5,
            {
                "train/loss_d": 1.0,
                "train/loss_g": 2.0,
                "train/d_real": 0.5,
                "train/d_fake": 0.5,
                "train/divergence": 0.1,
                "train/imgs_per_s": 9.0,
            },
        ),
        ("metrics", 5, {"eval/fid": 12.5}),  # numbers only
        ("image", "samples", "step_5.png", 5),
        ("image", "samples/final", "final.png", 5),
        ("alert", "d_wins", 5),
    ]
    assert logger.told[5][:2] == ("finish", status)
    assert logger.told[5][2]["eval/fid"] == 12.5


def test_a_logger_whose_package_is_missing_stops_the_run_before_it_reads_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mlflow" else find_spec(name, *a),
    )

    def never(*a: object) -> None:
        raise AssertionError("the data was read before the logger's check")

    monkeypatch.setattr("gancli.training.loop.load_dataset", never)
    result = run_cli("train", *TINY, "logger=[tensorboard,mlflow]", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "gancli: error: logger=mlflow needs the mlflow package, which is not installed: "
        "pip install mlflow-skinny (or pip install 'gancli[track]')"
    )
    assert not list(tmp_path.rglob("checkpoints")) and not list(tmp_path.rglob("tensorboard"))


def test_an_unreachable_tracking_store_stops_the_run_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "train",
        *TINY,
        "logger=mlflow",
        "logger.mlflow.tracking_uri=http://127.0.0.1:9",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(
        "gancli: error: logger=mlflow cannot use the tracking store http://127.0.0.1:9: "
    )
    assert line.endswith("start the server or set logger.mlflow.tracking_uri")
    assert not list(tmp_path.rglob("last.pt"))
