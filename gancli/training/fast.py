"""The fast path's layout and compilation switches: channels-last memory layout
(`train.channels_last`) and `torch.compile` (`train.compile`); mixed precision is
`gancli.training.precision`. Each is off by default, so the default run is the plain eager
loop; each is a no-op where it does not apply.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger("gancli.train")


def channels_last(module: nn.Module) -> nn.Module:
    """NHWC memory layout for conv nets: faster convolutions on tensor cores (and oneDNN)."""
    return module.to(memory_format=torch.channels_last)


def compile_module(module: nn.Module, what: str) -> None:
    """`torch.compile` `module` in place (its state dict keeps its keys, so checkpoints stay
    interchangeable with uncompiled runs). Where compilation is unsupported the module runs
    eagerly after one warning: `suppress_errors` makes dynamo fall back instead of raising."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    try:
        module.compile()
    except Exception as err:  # a platform or torch build without torch.compile
        log.warning("train.compile: cannot compile %s (%s); running it uncompiled", what,
                    str(err).splitlines()[0][:160] if str(err) else type(err).__name__)
