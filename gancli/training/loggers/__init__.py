"""Where a run's values go besides `metrics.jsonl`: the `logger=` group, several at once
(`logger=[tensorboard,mlflow]`).

`metrics.jsonl` is the run's own record and is always written (`gancli.training.monitor`); a
logger sends the same values on to a tool made for watching runs. Under torchrun only rank 0
logs. A logger that cannot start (its package missing, its store unreachable) stops the run
before it trains, with one line saying what to install or fix. A new logger is one module here
with a registered `Logger` subclass, a schema in `LoggersConfig` and one YAML in `conf/logger/`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gancli.errors import GancliError
from gancli.launch.jobs import SweepJob
from gancli.registry import Registry
from gancli.training.health import Alert


class Logger:
    """One tracking tool. It is built by `Loggers.start` at the start of a run's training and
    told everything the run logs; `finish` ends its run."""

    #: The module it imports, and how a user gets it.
    module: str
    install: str

    def __init__(
        self,
        opts: DictConfig,
        cfg: DictConfig,
        run_dir: Path,
        step: int,
        sweep: SweepJob | None = None,
    ) -> None:
        """Open the tool for the run in `run_dir` trained with `cfg` (`opts`: this logger's
        section of `cfg.logger`), which continues from `step` (0 for a new run); `sweep`: its
        place in a sweep, when it is one job of one."""

    def metrics(self, step: int, values: Mapping[str, float]) -> None:
        """Scalars logged at `step`, named `train/<key>` or `eval/<key>`."""

    def image(self, tag: str, path: Path, step: int) -> None:
        """A picture the run wrote (a sample grid, a scatter plot)."""

    def alert(self, alert: Alert) -> None:
        """A training-health alert that started."""

    def finish(self, status: str, summary: Mapping[str, float], run_dir: Path) -> None:
        """The run ended with `status` (`FINISHED`, `KILLED`: stopped by a signal to be
        resumed, `FAILED`); `summary` holds the last value of every scalar."""


LOGGERS: Registry[type[Logger]] = Registry("logger")
#: Class decorator: make a logger available as `logger=<name>`.
register_logger = LOGGERS.register


def chosen(cfg: DictConfig) -> list[str]:
    """The loggers `cfg.logger` turns on, each checked to be importable: a missing package
    fails here, before any data is read, with the command that installs it."""
    names = [name for name, opts in (cfg.get("logger") or {}).items() if opts is not None]
    for name in names:
        logger = LOGGERS.lookup(name)
        if importlib.util.find_spec(logger.module.split(".")[0]) is None:
            raise GancliError(
                f"logger={name} needs the {logger.module.split('.')[0]} package, "
                f"which is not installed: {logger.install}"
            )
    return names


def numbers(values: Mapping[str, object]) -> dict[str, float]:
    """The finite numbers of a metrics record (not `step`, the booleans or the text)."""
    return {
        k: float(v)
        for k, v in values.items()
        if k != "step"
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
    }


class Loggers:
    """Every chosen logger of one run, told the same things; the last value of each scalar is
    kept for the summary `finish` gets (TensorBoard's hparams, MLflow's final metrics)."""

    def __init__(self, loggers: list[Logger]) -> None:
        self.loggers = loggers
        self.last: dict[str, float] = {}

    @classmethod
    def start(
        cls, cfg: DictConfig, run_dir: Path, step: int, sweep: SweepJob | None = None
    ) -> Loggers:
        """Open every logger `cfg.logger` chooses; one that fails closes those already open."""
        started = cls([])
        try:
            for name in chosen(cfg):
                started.loggers.append(LOGGERS[name](cfg.logger[name], cfg, run_dir, step, sweep))
        except BaseException:
            started.finish("FAILED", run_dir)
            raise
        return started

    def metrics(self, step: int, group: str, record: Mapping[str, object]) -> None:
        values = {f"{group}/{k}": v for k, v in numbers(record).items()}
        if not values or not self.loggers:
            return
        self.last.update(values)
        for logger in self.loggers:
            logger.metrics(step, values)

    def image(self, tag: str, path: Path, step: int) -> None:
        for logger in self.loggers:
            logger.image(tag, path, step)

    def alert(self, alert: Alert) -> None:
        for logger in self.loggers:
            logger.alert(alert)

    def finish(self, status: str, run_dir: Path) -> None:
        """End every logger's run; each is ended even if another fails to."""
        loggers, self.loggers = self.loggers, []
        errors = []
        for logger in loggers:
            try:
                logger.finish(status, dict(self.last), run_dir)
            except Exception as err:  # noqa: BLE001  (the others still end; raised below)
                errors.append(err)
        if errors:
            raise errors[0]

    def ended(self, exc_type: type[BaseException] | None, run_dir: Path) -> None:
        """`finish` with the status an exception (or none) means."""
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, SystemExit | KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        self.finish(status, run_dir)


def flat_config(cfg: DictConfig) -> dict[str, str | int | float | bool]:
    """The config as dotted keys to scalars (lists as their text), what hparams and params
    take."""
    out: dict[str, str | int | float | bool] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        elif isinstance(node, str | int | float | bool):
            out[prefix[:-1]] = node
        else:  # None, a list
            out[prefix[:-1]] = str(node)

    walk(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), "")
    return out


__all__ = ["LOGGERS", "Logger", "Loggers", "chosen", "flat_config", "register_logger"]

# Fill the registry (each module imports its package only when its logger starts).
from gancli.training.loggers import mlflow, tensorboard  # noqa: E402,F401
