"""The pictures a run writes while it trains (`samples/step_<step>.png`, `final.png`): the
sampling generator on fixed latents and conditions, so every picture of a run shows the same
inputs, drawn as the data's kind draws them (`gancli.data.kinds`)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import Conditioning
from gancli.data.kinds import DataKind
from gancli.models.latent import sample_latent
from gancli.sampling import generate
from gancli.training.monitor import Monitor


class Preview:
    """`train.sample_n` samples (the kind's default when null) of fixed latents and conditions;
    scores a picture measured (2D mode scores) are recorded once per step."""

    def __init__(self, kind: DataKind, conditioning: Conditioning, cfg: DictConfig) -> None:
        self.kind, self.conditioning = kind, conditioning
        n = cfg.train.sample_n or kind.preview_n
        self.request = conditioning.preview(n)
        if self.request.c is not None:
            n = len(self.request.c)
        self.z = sample_latent(n, cfg.latent, torch.Generator().manual_seed(cfg.train.seed + 1))
        self._scored_step = -1

    def write(
        self, G: nn.Module, device: torch.device, path: Path, step: int, monitor: Monitor
    ) -> None:
        """Draw the picture of `G` at `step` into `path`; its scores go to `monitor` unless
        this step's were recorded already (final.png may repeat the last step's picture)."""
        out = generate(G, self.z, device, c=self.request.c)
        grid = self.conditioning.picture(out, self.request, self.request.nrow)
        scores = self.kind.preview(out, grid, path, step)
        monitor.picture(path, step)
        if scores and step != self._scored_step:
            monitor.record_eval(step, scores)
            self._scored_step = step
