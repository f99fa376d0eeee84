"""The fast path's switches: mixed precision (`train.precision`), channels-last memory layout
(`train.channels_last`) and `torch.compile` (`train.compile`). Each is off by default, so the
default run is the plain fp32 loop; each is a no-op where it does not apply.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch
from torch import nn

from gancli.errors import GancliError

log = logging.getLogger("gancli.train")

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast for the forward passes and, for fp16, a gradient scaler per player.

    bf16 keeps fp32's exponent range, so it needs no scaling and works on CPUs too. fp16 does
    not: small gradients underflow, so each loss is scaled up before `backward` and the
    gradients unscaled before the optimizer step (`torch.amp.GradScaler`), which only CUDA
    supports well. Penalties on D's input gradient (WGAN-GP, R1) are computed in fp32 whatever
    this says (`gancli.losses.base.input_gradient`): a gradient norm in bf16 has 3 significant
    digits, too few for a term that is the square of its distance from 1."""

    def __init__(self, name: str, device: torch.device) -> None:
        if name not in DTYPES:
            raise GancliError(f"unknown train.precision '{name}'; choose one of: "
                              f"{', '.join(DTYPES)}")
        if name == "fp16" and device.type != "cuda":
            raise GancliError("train.precision=fp16 needs a CUDA device (its gradient scaler); "
                              "use train.precision=bf16 on the CPU")
        self.name, self.device, self.dtype = name, device, DTYPES[name]
        self.scalers: dict[int, torch.amp.GradScaler] = {}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.dtype):
            yield

    def _scaler(self, opt: torch.optim.Optimizer) -> torch.amp.GradScaler | None:
        if self.name != "fp16":
            return None
        return self.scalers.setdefault(id(opt), torch.amp.GradScaler(self.device.type))

    def backward(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        scaler = self._scaler(opt)
        (loss if scaler is None else scaler.scale(loss)).backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        """Bring `opt`'s gradients back to their true scale (before measuring their norm)."""
        scaler = self._scaler(opt)
        if scaler is not None:
            scaler.unscale_(opt)

    def step(self, opt: torch.optim.Optimizer) -> None:
        scaler = self._scaler(opt)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)  # skipped when the scaled gradients overflowed
            scaler.update()


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
