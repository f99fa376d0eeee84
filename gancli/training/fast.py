"""The fast path's layout and compilation switches: channels-last memory layout
(`train.channels_last`) and `torch.compile` (`train.compile`); mixed precision is
`gancli.training.precision`. Each is off by default, so the default run is the plain eager
loop; each is a no-op where it does not apply.
"""

from __future__ import annotations

import logging
from collections import Counter

import torch
from torch import nn

log = logging.getLogger("gancli.train")


def channels_last(module: nn.Module) -> nn.Module:
    """NHWC memory layout for conv nets: faster convolutions on tensor cores (and oneDNN)."""
    return module.to(memory_format=torch.channels_last)


def compile_module(module: nn.Module, what: str, double_backward: bool = False) -> None:
    """`torch.compile` `module` in place (its state dict keeps its keys, so checkpoints stay
    interchangeable with uncompiled runs). Where compilation is unsupported the module runs
    eagerly after one warning: `suppress_errors` makes dynamo fall back instead of raising, which
    is why `log_compiled` says afterwards whether anything was compiled.

    `double_backward`: a gradient penalty differentiates `module`'s backward again, which
    compiled code cannot; `gancli.losses.base.input_gradient` runs that call eagerly through
    `torch.compiler.set_stance` (torch >= 2.6). Older torch lacks it, so there the module stays
    uncompiled."""
    import torch._dynamo

    if double_backward and not hasattr(torch.compiler, "set_stance"):
        log.warning("train.compile: torch %s cannot compile %s under a gradient penalty (its "
                    "double backward needs torch >= 2.6); running it uncompiled",
                    torch.__version__, what)
        return
    torch._dynamo.config.suppress_errors = True
    try:
        module.compile()
    except Exception as err:  # a platform or torch build without torch.compile
        log.warning("train.compile: cannot compile %s (%s); running it uncompiled", what,
                    str(err).splitlines()[0][:160] if str(err) else type(err).__name__)


def compile_counts() -> Counter[str]:
    """dynamo's process-wide running totals: frames it tried, frames it compiled and graphs it
    made. `log_compiled` reads the difference since the players were compiled."""
    from torch._dynamo.utils import counters

    return Counter(tried=counters["frames"]["total"], ok=counters["frames"]["ok"],
                   graphs=counters["stats"]["unique_graphs"])


def log_compiled(before: Counter[str]) -> None:
    """Log, after the first step, whether `train.compile` compiled anything since `before`: with
    `suppress_errors` a failed compilation otherwise only shows as a slow run."""
    done = compile_counts()
    done.subtract(before)
    if done["graphs"] > 0:
        log.info("compile: %d graphs compiled", done["graphs"])
    else:
        log.warning("compile: nothing compiled (errors suppressed: %d of %d frames failed, "
                    "dynamo's warnings say why); G and D run eagerly",
                    done["tried"] - done["ok"], done["tried"])
