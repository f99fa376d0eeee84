"""An exponential moving average of G's weights (Karras et al.; Yazıcı et al. 2019): samples
from the averaged G are usually smoother and better than from the last iterate."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """An averaged copy of G (`module`), its batch-norm statistics included, updated after
    every G step with a decay that ramps up as min(decay, (1+n)/(10+n)) (TensorFlow's
    ExponentialMovingAverage num_updates rule): a fixed decay from the first step, as in torch's
    `get_ema_multi_avg_fn`, keeps much of the random initialisation in a short run.

    Written here rather than with torch's `AveragedModel` because that keeps the update count
    as a tensor on the device and reads it on the host every update (`if n_averaged == 0`),
    which stalls a GPU once per step; this count is a Python int, so an update only queues
    two fused kernels."""

    def __init__(self, G: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(G).requires_grad_(False)
        self.decay = decay
        self.count = 0  # updates so far

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        ours = [*self.module.parameters(), *self.module.buffers()]
        theirs = [*G.parameters(), *G.buffers()]
        if self.count == 0:
            torch._foreach_copy_(ours, theirs)
        else:
            beta = min(self.decay, (1 + self.count) / (10 + self.count))
            floats = [i for i, t in enumerate(ours) if t.is_floating_point()]
            others = [i for i, t in enumerate(ours) if not t.is_floating_point()]
            # Integer buffers (batch norm's counters) cannot be averaged: they are copied.
            torch._foreach_lerp_([ours[i] for i in floats], [theirs[i] for i in floats], 1 - beta)
            if others:
                torch._foreach_copy_([ours[i] for i in others], [theirs[i] for i in others])
        self.count += 1
