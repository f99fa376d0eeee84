"""The arithmetic of the forward passes (`train.precision`): fp32, or autocast to bf16 or fp16.

bf16 keeps fp32's exponent range, so it needs no scaling and works on CPUs too. fp16 does not:
small gradients underflow, so each loss is scaled up before `backward` and the gradients
unscaled before the optimizer step (`torch.amp.GradScaler`), which only CUDA supports well.
Penalties on D's input gradient (WGAN-GP, R1) are computed in fp32 whatever this says
(`gancli.losses.base.input_gradient`): a gradient norm in bf16 has 3 significant digits, too few
for a term that is the square of its distance from 1. A new precision is one registered class.

`auto` (the default) is bf16 where the hardware computes it natively and fp32 elsewhere. On a
CPU with AMX or AVX512-BF16 that is bf16 (oneDNN's bf16 convolutions: the default run's step is
1.24x faster on the 2-core EPYC with AVX512-BF16, a 32x32 DCGAN's 1.6-1.85x); without them bf16
is emulated and slower than fp32. On a GPU with bf16 it is measured, as the layout is
(`gancli.training.fast`): a small model's step there is bound by kernel launches, which
autocast's casts add to (on an H200 the 32x32 DCGAN at batch 64 ran 10-15% slower in bf16),
while a large one gains from the tensor cores. 2D points stay fp32 whatever the hardware: bf16
spaces values 0.016 apart near 2, coarser than ring8's modes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from gancli.errors import GancliError
from gancli.registry import Registry, unknown_name
from gancli.training.fast import MARGIN, time_probes

PRECISIONS: Registry[type[Precision]] = Registry("precision (train.precision)")
#: Class decorator: make a precision available as `train.precision=<name>`.
register_precision = PRECISIONS.register


@register_precision("fp32")
class Precision:
    """Autocast to `dtype` for the forward passes (none: plain fp32) and the backward pass and
    optimizer step every precision goes through, so the loop never asks which one it has."""

    dtype: torch.dtype | None = None
    #: The registered name, and how it was chosen (`given`, or `auto: ...` with the reason),
    #: as the log and metrics.jsonl's first line say; set by `build_precision`.
    name = "fp32"
    how = "given"

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def record(self) -> dict[str, object]:
        """What metrics.jsonl's first line keeps of the choice."""
        return {"precision": self.name, "precision_choice": self.how}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.dtype):
            yield

    def backward(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        loss.backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        """Bring `opt`'s gradients back to their true scale (before measuring their norm)."""

    def step(self, opt: torch.optim.Optimizer) -> None:
        opt.step()

    def state_dict(self, opts: dict[str, torch.optim.Optimizer]) -> dict[str, dict]:
        """What a checkpoint keeps to continue this arithmetic, by the names of `opts`: nothing
        but a gradient scaler's state."""
        return {}

    def load_state_dict(
        self, state: dict[str, dict], opts: dict[str, torch.optim.Optimizer]
    ) -> None:
        """Continue from `state_dict`'s `state` (empty from a run in another precision)."""


@register_precision("bf16")
class BFloat16(Precision):
    dtype = torch.bfloat16


@register_precision("fp16")
class Float16(Precision):
    """fp16 autocast with a gradient scaler per optimizer (that is, per player)."""

    dtype = torch.float16

    def __init__(self, device: torch.device) -> None:
        if device.type != "cuda":
            raise GancliError(
                "train.precision=fp16 needs a CUDA device (its gradient scaler); "
                "use train.precision=bf16 on the CPU"
            )
        super().__init__(device)
        self.scalers: dict[int, torch.amp.GradScaler] = {}

    def _scaler(self, opt: torch.optim.Optimizer) -> torch.amp.GradScaler:
        return self.scalers.setdefault(id(opt), torch.amp.GradScaler(self.device.type))

    def backward(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        self._scaler(opt).scale(loss).backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        self._scaler(opt).unscale_(opt)

    def step(self, opt: torch.optim.Optimizer) -> None:
        scaler = self._scaler(opt)
        scaler.step(opt)  # skipped when the scaled gradients overflowed
        scaler.update()

    def state_dict(self, opts: dict[str, torch.optim.Optimizer]) -> dict[str, dict]:
        """Each scaler's scale and growth count, so that a resumed run goes on at the scale it
        had found instead of 65,536 again (and its overflows, skipped steps, again)."""
        return {name: self._scaler(opt).state_dict() for name, opt in opts.items()}

    def load_state_dict(
        self, state: dict[str, dict], opts: dict[str, torch.optim.Optimizer]
    ) -> None:
        for name, saved in state.items():
            if name in opts and saved:  # a disabled scaler saved nothing
                self._scaler(opts[name]).load_state_dict(saved)


def native_bf16(device: torch.device) -> str | None:
    """What computes bf16 natively on `device` (`AMX`, `AVX512-BF16`, the GPU's name), or None
    where bf16 would be emulated. torch's CPU checks are private functions, hence the getattr:
    a torch without them is taken to have neither."""
    if device.type == "cpu":
        for what, check in (
            ("AMX", "_is_amx_tile_supported"),
            ("AVX512-BF16", "_is_avx512_bf16_supported"),
        ):
            if getattr(torch.cpu, check, lambda: False)():
                return what
        return None
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.cuda.get_device_name(device)
    return None


#: Builds what `auto` times on a GPU: a call of the players in the precision named (None: no
#: batch to measure with).
ProbeFactory = Callable[[str], Callable[[], object] | None]


def choose_precision(
    setting: str,
    device: torch.device,
    reduced_ok: bool = True,
    make_probe: ProbeFactory | None = None,
) -> tuple[str, str]:
    """`train.precision=setting` on `device`: the precision's name and how it was chosen (see
    the module's docstring). `reduced_ok`: whether the data tolerates bf16 (images do, 2D points
    do not). `make_probe`: what a GPU's choice times."""
    if setting != "auto":
        check_precision(setting)
        return setting, "given"
    if not reduced_ok:
        return "fp32", (
            "auto: fp32 (2D points: bf16's 3 significant digits are coarser than the modes)"
        )
    native = native_bf16(device)
    if native is None:
        return "fp32", (
            f"auto: fp32 (bf16 would be emulated on this {device.type}, slower than fp32)"
        )
    if device.type == "cpu" or make_probe is None:
        return "bf16", f"auto: bf16 ({device.type} computes it natively: {native})"
    made = {name: make_probe(name) for name in ("fp32", "bf16")}
    probes = {name: probe for name, probe in made.items() if probe is not None}
    if len(probes) < len(made):
        return "fp32", "auto: fp32 (no batch to measure bf16 with)"
    times = time_probes(probes, device)
    name = "bf16" if times["bf16"] < (1 - MARGIN) * times["fp32"] else "fp32"
    return name, (
        f"auto: {name} (bf16 native on {native}; measured {1000 * times['bf16']:.1f} "
        f"ms a call in bf16, {1000 * times['fp32']:.1f} ms in fp32)"
    )


def check_precision(name: str) -> None:
    """A `train.precision` that names no precision fails in one line, before any work."""
    if name != "auto" and name not in PRECISIONS:
        raise GancliError(unknown_name(PRECISIONS.kind, name, ["auto", *PRECISIONS]))


def build_precision(name: str, device: torch.device, how: str = "given") -> Precision:
    """The registered precision `name` (`train.precision`, or what `choose_precision` chose:
    `how` says how, for the log and metrics.jsonl)."""
    check_precision(name)
    precision = PRECISIONS[name](device)
    precision.name, precision.how = name, how
    return precision
