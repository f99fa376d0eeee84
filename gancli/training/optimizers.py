"""Optimizers by name: `optim=<name>` picks a factory from `OPTIMIZERS`. A new optimizer is one
registered factory plus one YAML in `conf/optim/`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.registry import Registry

#: Builds an optimizer over `params` with learning rate `lr` from an `OptimConfig`.
OptimizerFactory = Callable[[list[nn.Parameter], DictConfig, float], torch.optim.Optimizer]
OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")
#: Decorator: make a factory available as `optim=<name>`.
register_optimizer = OPTIMIZERS.register


@register_optimizer("adam")
def adam(params: list[nn.Parameter], cfg: DictConfig, lr: float) -> torch.optim.Optimizer:
    """Adam with `optim.betas`; the fused CUDA kernel (one launch for all parameters) when every
    parameter is on a GPU."""
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.betas), fused=fused or None)


def build_optimizer(
    cfg: DictConfig, params: Iterable[nn.Parameter], lr: float
) -> torch.optim.Optimizer:
    """The optimizer `cfg.name` (an `OptimConfig`) with learning rate `lr`."""
    return OPTIMIZERS.lookup(cfg.name)(list(params), cfg, lr)


def lr_factor(step: int, steps: int, decay: float) -> float:
    """The learning rates' factor for G update `step` (0-based) of `steps`: 1, then linearly
    down to 0 over the last `decay` fraction of the run (`optim.decay`). A function of the step
    alone, so a resumed run continues the schedule without saving it."""
    start = steps * (1 - decay)
    if decay <= 0 or step < start:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Every parameter group's learning rate (a float: changing it launches nothing)."""
    for group in opt.param_groups:
        group["lr"] = lr
