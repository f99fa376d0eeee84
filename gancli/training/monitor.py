"""What a run reports while it trains: one JSON line per `log_every` step in `metrics.jsonl`, a
log line, and a rich progress bar when stdout is a terminal."""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from types import TracebackType

from gancli.log import console

log = logging.getLogger("gancli.train")


class Monitor:
    """Appends metrics records and shows progress from `start` to `total` steps; with
    `write=False` (the ranks other than 0 under torchrun) it writes and shows nothing."""

    def __init__(self, run_dir: Path, start: int, total: int, write: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.total = total
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
                TextColumn("[bold]train"), BarColumn(bar_width=24), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=console(), transient=True)
            self._task = self._progress.add_task("train", total=total, completed=start,
                                                 status="")

    def __enter__(self) -> Monitor:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._file is not None:
            self._file.close()

    def advance(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def _write(self, record: dict[str, float | int]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()  # a crash keeps every line written so far

    def record_eval(self, step: int, scores: dict[str, float | int]) -> None:
        """Append evaluation scores as their own line (`step` plus the scores) and report them."""
        self._write({"step": step, **scores})
        log.info("step %d  eval  %s", step, "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()))

    def record(self, metrics: dict[str, float | int]) -> None:
        """Write one training-metrics line and report it."""
        self._write(metrics)
        summary = (f"loss_d {metrics['loss_d']:.4f}  loss_g {metrics['loss_g']:.4f}  "
                   f"D(x) {metrics['d_real']:.3f}  D(G(z)) {metrics['d_fake']:.3f}  "
                   f"div {metrics['divergence']:.4f}  {metrics['imgs_per_s']:.0f} img/s")
        if self._progress is not None:
            self._progress.update(self._task, status=(
                f"D {metrics['loss_d']:.3f} G {metrics['loss_g']:.3f} "
                f"div {metrics['divergence']:.3f} {metrics['imgs_per_s']:.0f} img/s"))
        log.info("step %*d/%d  %s", int(math.log10(self.total)) + 1, metrics["step"], self.total,
                 summary)
