"""What a run reports while it trains: one JSON line per `log_every` step in `metrics.jsonl`, a
log line with the time left (`eta`), a rich progress bar with it when stdout is a terminal, and
the same values to the chosen loggers (`gancli.training.loggers`)."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from gancli.files import atomic_write
from gancli.log import console
from gancli.training.health import Alert, Health
from gancli.training.loggers import Loggers

log = logging.getLogger("gancli.train")


def trim_metrics(path: Path, step: int) -> int:
    """Drop the lines of `path` past `step` (and a half-written last line): a run continued
    from its step-`step` checkpoint writes them again, so one run's file has each step once.
    They were written after that checkpoint by a process that then died. Returns how many
    lines went."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("step", 0) <= step:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write(path, lambda f: f.write("".join(f"{x}\n" for x in kept).encode()))
        log.info(
            "%s: dropped %d line(s) past step %d, which this run writes again", path, dropped, step
        )
    return dropped


def format_eta(seconds: float) -> str:
    """Time left as a clock reads it: `2:05` (minutes and seconds), `1:02:05` past an hour,
    `?` while there is nothing to estimate from."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_seconds(elapsed: float, done: int, left: int) -> float:
    """The time `left` more steps take at the pace of the `done` steps in `elapsed` seconds
    (pictures, checkpoints and evaluations included, which recur as the run goes on)."""
    return elapsed / done * left if done > 0 else math.nan


class Monitor:
    """Appends metrics records and shows progress from `start` to `total` steps; with
    `write=False` (the ranks other than 0 under torchrun) it writes and shows nothing.
    `loggers` are told everything too, and ended with the run's status on leaving."""

    def __init__(
        self,
        run_dir: Path,
        start: int,
        total: int,
        write: bool = True,
        health: Health | None = None,
        stop_on: Sequence[str] = (),
        loggers: Loggers | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self.loggers = loggers or Loggers([])
        self.start, self.total = start, total
        self.health, self.stop_on = health, set(stop_on)
        # The first alert of `stop_on` seen, which asks the loop to stop.
        self.stopping_alert: Alert | None = None
        if write:
            trim_metrics(self.path, start)
        self._file = open(self.path, "a", encoding="utf-8") if write else None  # noqa: SIM115
        self._progress = None
        if write and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console(),
                transient=True,
            )
            self._task = self._progress.add_task("train", total=total, completed=start, status="")

    def __enter__(self) -> Monitor:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._file is not None:
            self._file.close()
        self.loggers.ended(exc_type, self.run_dir)

    def advance(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def _write(self, record: Mapping[str, object]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()  # a crash keeps every line written so far

    def alerts(self, alerts: list[Alert]) -> None:
        """Report alerts that started: a warning with what to try, an `alert` line."""
        for alert in alerts:
            if alert.name in self.stop_on and self.stopping_alert is None:
                self.stopping_alert = alert
            if self._file is None:  # a rank other than 0: rank 0 reports it
                continue
            log.warning(
                "step %d: alert %s: %s; try: %s", alert.step, alert.name, alert.seen, alert.advice
            )
            self._write(alert.to_record())
            self.loggers.alert(alert)

    def picture(self, path: Path, step: int) -> None:
        """A training picture was written: to the loggers, `samples/step_*.png` as one image
        series, `final.png` (or another) under its own name."""
        stem = path.stem
        self.loggers.image("samples" if stem.startswith("step_") else f"samples/{stem}", path, step)

    def placement(self, step: int, where: dict[str, object]) -> None:
        """Record where this segment of the run trains (device, GPU, threads, sweep job) as a
        `device` line of its own: a resumed run on another GPU adds a second."""
        self._write({"step": step, **where})

    def record_eval(self, step: int, scores: dict[str, float | int]) -> None:
        """Append evaluation scores as their own line (`step` plus the scores) and report them."""
        self._write({"step": step, **scores})
        self.loggers.metrics(step, "eval", scores)
        if self.health is not None:
            self.alerts(self.health.update({"step": step, **scores}))
        log.info(
            "step %d  eval  %s",
            step,
            "  ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()
            ),
        )

    def record(self, metrics: dict[str, float | int]) -> None:
        """Write one training-metrics line and report it."""
        step = int(metrics["step"])
        self._write(metrics)
        self.loggers.metrics(step, "train", metrics)
        if self.health is not None:
            self.alerts(self.health.update(metrics))
        eta = format_eta(
            eta_seconds(metrics.get("elapsed_s", math.nan), step - self.start, self.total - step)
        )
        summary = (
            f"loss_d {metrics['loss_d']:.4f}  loss_g {metrics['loss_g']:.4f}  "
            f"D(x) {metrics['d_real']:.3f}  D(G(z)) {metrics['d_fake']:.3f}  "
            f"div {metrics['divergence']:.4f}  {metrics['imgs_per_s']:.0f} img/s  "
            f"eta {eta}"
        )
        if self._progress is not None:
            self._progress.update(
                self._task,
                status=(
                    f"D {metrics['loss_d']:.3f} G {metrics['loss_g']:.3f} "
                    f"div {metrics['divergence']:.3f} {metrics['imgs_per_s']:.0f} img/s"
                ),
            )
        log.info(
            "step %*d/%d  %s", int(math.log10(self.total)) + 1, metrics["step"], self.total, summary
        )
