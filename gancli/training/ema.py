"""An exponential moving average of G's weights (Karras et al.; Yazıcı et al. 2019): samples
from the averaged G are usually smoother and better than from the last iterate."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_update(decay: float):
    """A `multi_avg_fn` for `AveragedModel`: EMA with warm-up, buffers copied.

    torch's `get_ema_multi_avg_fn` uses a fixed decay from the first step, which in a short run
    keeps much of the random initialisation; here the decay ramps up as min(decay, (1+n)/(10+n))
    (TensorFlow's ExponentialMovingAverage num_updates rule). Integer buffers (batch norm's
    counters) cannot be averaged and are copied.
    """

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor],
               num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        beta = min(decay, (1 + n) / (10 + n))
        if averaged[0].is_floating_point():
            torch._foreach_lerp_(averaged, current, 1 - beta)
        else:
            torch._foreach_copy_(averaged, current)

    return update


def make_ema(G: nn.Module, decay: float) -> AveragedModel:
    """An averaged copy of G that also tracks its batch-norm statistics."""
    return AveragedModel(G, multi_avg_fn=ema_update(decay), use_buffers=True)
