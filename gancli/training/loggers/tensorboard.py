"""`logger=tensorboard`: event files in the run folder's `tensorboard/`, through
`torch.utils.tensorboard` (the `tensorboard` package writes them)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from gancli.launch.jobs import SweepJob
from gancli.training.health import Alert
from gancli.training.loggers import Logger, flat_config, register_logger

log = logging.getLogger("gancli.train")


@register_logger("tensorboard")
class TensorBoardLogger(Logger):
    """Scalars, the sample pictures, alerts and the config as text; at the end, the config as
    hparams with the final value of every scalar, so TensorBoard's HPARAMS tab compares the
    jobs of a sweep (`tensorboard --logdir SWEEP`)."""

    module = "tensorboard"
    install = "pip install tensorboard (or pip install 'gancli[track]')"

    def __init__(
        self,
        opts: DictConfig,
        cfg: DictConfig,
        run_dir: Path,
        step: int,
        sweep: SweepJob | None = None,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.images = opts.images
        self.params = flat_config(cfg)
        # A resumed run hides what its previous process wrote past the checkpoint's step (it
        # writes those steps again), as metrics.jsonl drops those lines.
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=step or None)
        log.info(
            "logger=tensorboard: events in %s (browse: tensorboard --logdir %s)",
            run_dir / "tensorboard",
            run_dir,
        )
        if not step:
            # Markdown: indented text is shown as it is.
            text = OmegaConf.to_yaml(cfg).replace("\n", "\n    ")
            self.writer.add_text("config", "    " + text, 0)

    def metrics(self, step: int, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)

    def image(self, tag: str, path: Path, step: int) -> None:
        if not self.images:
            return
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def alert(self, alert: Alert) -> None:
        self.writer.add_text(
            "alerts",
            f"**{alert.name}** at step {alert.step}: {alert.seen}; try: {alert.advice}",
            alert.step,
        )

    def finish(self, status: str, summary: Mapping[str, float], run_dir: Path) -> None:
        from torch.utils.tensorboard.summary import hparams

        # Into this run's own event file: SummaryWriter.add_hparams would make a sub-run of it.
        metrics = {f"hparam/{k}": v for k, v in summary.items()}
        for part in hparams({**self.params, "status": status}, metrics):
            # torch declares `file_writer` None: its __init__ sets it after the declaration.
            self.writer.file_writer.add_summary(part)  # type: ignore[attr-defined]
        for key, value in metrics.items():
            self.writer.add_scalar(key, value)
        self.writer.close()
