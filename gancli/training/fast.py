"""The fast path's layout and compilation switches: channels-last memory layout
(`train.channels_last`) and `torch.compile` (`train.compile`); mixed precision is
`gancli.training.precision`. Each is a no-op where it does not apply.

The layout is `auto` by default: which one is faster depends on the device, the library under
the convolutions and the model (on the 2-core EPYC, channels-last makes a 32x32 DCGAN's fp32
step 1.2x faster and its bf16 step 1.02-1.05x; GPUs' tensor cores want it), so it is measured:
copies of G and D, in each layout, a forward and backward pass at the run's batch, timed in
interleaved rounds (`gancli.threads.interleaved_medians`, under half a second). Channels-last
is taken only when `MARGIN` faster; a tie keeps the contiguous layout, which every op
supports without copies. Compilation stays off by default: it costs tens of seconds before the
first step, more than a short run gains.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from gancli.threads import SLOW_CALL_S, interleaved_medians

log = logging.getLogger("gancli.train")

#: How much faster (a fraction of the time per call) channels-last, or bf16 on a GPU
#: (`gancli.training.precision`), must measure to be chosen.
MARGIN = 0.03


@dataclass(frozen=True)
class LayoutChoice:
    """Whether G, D and the batches are channels-last, and how that was chosen."""

    on: bool
    how: str

    def __str__(self) -> str:
        return f"train.channels_last: {'on' if self.on else 'off'}, {self.how}"

    def record(self) -> dict[str, object]:
        """What metrics.jsonl's first line keeps of it."""
        return {"channels_last": self.on, "channels_last_choice": self.how}


def choose_layout(
    setting: str,
    has_layout: bool,
    device: torch.device,
    make_probe: Callable[[bool], Callable[[], object] | None],
) -> LayoutChoice:
    """`train.channels_last=setting` (`auto`, `true`, `false`; any case) for data with or
    without an image layout; `auto` times the probes `make_probe(channels_last)` builds (see
    the module's docstring); a probe of None: nothing to time."""
    value = str(setting).lower()
    if not has_layout:
        return LayoutChoice(False, "2D points have no image layout")
    if value != "auto":
        return LayoutChoice(value == "true", "given")
    if device.type not in ("cpu", "cuda"):
        return LayoutChoice(False, f"auto: off (not measured on {device.type})")
    made = {layout: make_probe(layout) for layout in (False, True)}
    probes = {layout: probe for layout, probe in made.items() if probe is not None}
    if len(probes) < len(made):
        return LayoutChoice(False, "auto: off (no batch to measure with)")
    times = time_probes(probes, device)
    on = times[True] < (1 - MARGIN) * times[False]
    return LayoutChoice(
        on,
        f"auto: {'on' if on else 'off'} (measured {1000 * times[True]:.1f} "
        f"ms a call channels-last, {1000 * times[False]:.1f} ms contiguous)",
    )


K = TypeVar("K")


def time_probes(probes: dict[K, Callable[[], object]], device: torch.device) -> dict[K, float]:
    """Seconds a call of each probe takes on `device` (waiting for a GPU to finish): one untimed
    call each (allocations, kernel choice), then `interleaved_medians`, or for a large model
    (untimed calls over `SLOW_CALL_S` each) one timed call each."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None

    def seconds(key: K) -> float:
        sync()
        start = time.perf_counter()
        probes[key]()
        sync()
        return time.perf_counter() - start

    first = {key: seconds(key) for key in probes}
    if sum(first.values()) > len(probes) * SLOW_CALL_S:
        return {key: seconds(key) for key in probes}
    return interleaved_medians(list(probes), seconds)


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
        log.warning(
            "train.compile: torch %s cannot compile %s under a gradient penalty (its "
            "double backward needs torch >= 2.6); running it uncompiled",
            torch.__version__,
            what,
        )
        return
    torch._dynamo.config.suppress_errors = True
    try:
        module.compile()
    except Exception as err:  # a platform or torch build without torch.compile
        log.warning(
            "train.compile: cannot compile %s (%s); running it uncompiled",
            what,
            str(err).splitlines()[0][:160] if str(err) else type(err).__name__,
        )


def compile_counts() -> Counter[str]:
    """dynamo's process-wide running totals: frames it tried, frames it compiled and graphs it
    made. `log_compiled` reads the difference since the players were compiled."""
    from torch._dynamo.utils import counters

    return Counter(
        tried=counters["frames"]["total"],
        ok=counters["frames"]["ok"],
        graphs=counters["stats"]["unique_graphs"],
    )


def log_compiled(before: Counter[str]) -> None:
    """Log, after the first step, whether `train.compile` compiled anything since `before`: with
    `suppress_errors` a failed compilation otherwise only shows as a slow run."""
    done = compile_counts()
    done.subtract(before)
    if done["graphs"] > 0:
        log.info("compile: %d graphs compiled", done["graphs"])
    else:
        log.warning(
            "compile: nothing compiled (errors suppressed: %d of %d frames failed, "
            "dynamo's warnings say why); G and D run eagerly",
            done["tried"] - done["ok"],
            done["tried"],
        )
