"""`logger=mlflow`: one MLflow run per gancli run, through `MlflowClient` (explicit run ids, so
the jobs of an in-process sweep never share the fluent API's active run)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from gancli.errors import GancliError
from gancli.files import atomic_write
from gancli.launch.jobs import SweepJob
from gancli.training.health import Alert
from gancli.training.loggers import Logger, flat_config, register_logger

log = logging.getLogger("gancli.train")

#: The run folder's note of its MLflow run, so that a resumed run continues that run.
RUN_FILE = "mlflow_run.json"
#: MLflow's own limits per call: 100 params, 1,000 metrics.
PARAMS_PER_CALL = 100
METRICS_PER_CALL = 1000


def default_store() -> tuple[str, str]:
    """The SQLite store and artifact folder beside the working directory's outputs/. MLflow 3
    refuses its old file store (`./mlruns`) unless told to allow it."""
    outputs = Path.cwd() / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{outputs / 'mlflow.db'}", (outputs / "mlartifacts").as_uri()


def experiment_name(opts: DictConfig, sweep: SweepJob | None) -> str:
    """The run's experiment in MLflow: `logger.mlflow.experiment`, else a sweep job's sweep
    folder (the sweep's jobs side by side), else `gancli`."""
    return opts.experiment or (sweep.sweep_dir if sweep is not None else None) or "gancli"


def run_name(run_dir: Path, sweep: SweepJob | None) -> str:
    """The run's name in MLflow: a sweep job's number (its folder's name; its params say what
    it varies), else the run folder's path."""
    return str(sweep.num) if sweep is not None else str(run_dir)


@register_logger("mlflow")
class MLflowLogger(Logger):
    """Params (the flattened config), metrics per step, the sample pictures as artifacts under
    `samples/`, alerts as tags; at the end metrics.jsonl, eval.json and (with
    `logger.mlflow.log_checkpoint`) checkpoints/last.pt, and the run's status."""

    module = "mlflow"
    install = "pip install mlflow-skinny (or pip install 'gancli[track]')"

    def __init__(
        self,
        opts: DictConfig,
        cfg: DictConfig,
        run_dir: Path,
        step: int,
        sweep: SweepJob | None = None,
    ) -> None:
        # A store that does not answer fails in seconds, not after MLflow's minutes of retries.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        # A new SQLite store is migrated to MLflow's schema with a page of INFO lines.
        for noisy in ("mlflow.store.db.utils", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

        self.opts = opts
        uri, artifacts = (opts.tracking_uri, None) if opts.tracking_uri else default_store()
        name = experiment_name(opts, sweep)
        note = run_dir / RUN_FILE
        try:
            self.client = MlflowClient(uri)
            previous = json.loads(note.read_text()) if note.is_file() else {}
            if step and previous.get("tracking_uri") == uri:
                self.run_id = previous["run_id"]  # a resumed run continues its MLflow run
                self.client.update_run(self.run_id, status="RUNNING")
                self.client.set_tag(self.run_id, "gancli.resumed_at_step", str(step))
            else:
                experiment = self._experiment(name, artifacts)
                self.run_id = self.client.create_run(
                    experiment,
                    run_name=run_name(run_dir, sweep),
                    tags={"gancli.run_dir": str(run_dir)},
                ).info.run_id
                params = [Param(k, str(v)[:6000]) for k, v in flat_config(cfg).items()]
                for i in range(0, len(params), PARAMS_PER_CALL):
                    self.client.log_batch(self.run_id, params=params[i : i + PARAMS_PER_CALL])
        except Exception as err:  # noqa: BLE001  (MLflow raises many kinds; all mean this)
            raise GancliError(
                f"logger=mlflow cannot use the tracking store {uri}: "
                f"{str(err).splitlines()[0] if str(err) else type(err).__name__}; "
                "start the server or set logger.mlflow.tracking_uri"
            ) from None
        atomic_write(
            note,
            lambda f: f.write(json.dumps({"tracking_uri": uri, "run_id": self.run_id}).encode()),
        )
        log.info(
            "logger=mlflow: run %s in experiment '%s' of %s (browse: mlflow ui "
            "--backend-store-uri %s)",
            self.run_id,
            name,
            uri,
            uri,
        )

    def _experiment(self, name: str, artifacts: str | None) -> str:
        """The id of experiment `name`, made if needed: sweep jobs running side by side may
        race to make it, and the loser finds the winner's."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            location = None if artifacts is None else f"{artifacts}/{name.replace('/', '_')}"
            return self.client.create_experiment(name, artifact_location=location)
        except Exception:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def metrics(self, step: int, values: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, step) for k, v in values.items()]
        for i in range(0, len(batch), METRICS_PER_CALL):
            self.client.log_batch(self.run_id, metrics=batch[i : i + METRICS_PER_CALL])

    def image(self, tag: str, path: Path, step: int) -> None:
        # Under its own name in one folder (the files are named by their step).
        self.client.log_artifact(self.run_id, str(path), tag.split("/")[0])

    def alert(self, alert: Alert) -> None:
        self.client.set_tag(
            self.run_id,
            f"alert.{alert.name}",
            f"step {alert.step}: {alert.seen}; try: {alert.advice}",
        )

    def finish(self, status: str, summary: Mapping[str, float], run_dir: Path) -> None:
        for name in ("metrics.jsonl", "eval.json"):
            if (run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(run_dir / name))
        last = run_dir / "checkpoints" / "last.pt"
        if self.opts.log_checkpoint and status == "FINISHED" and last.is_file():
            self.client.log_artifact(self.run_id, str(last), "checkpoints")
        self.client.set_terminated(self.run_id, status)
