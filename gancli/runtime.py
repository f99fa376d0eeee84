"""Random-number state: what a checkpoint saves of every stream a training step draws from,
and its restoring. (Device choice: `gancli.launch.devices`.)"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger("gancli.train")


def rng_state(data_rng: torch.Generator) -> dict[str, object]:
    """Every random stream a training step draws from, for checkpoints."""
    state: dict[str, object] = {"torch": torch.get_rng_state(), "data": data_rng.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def data_state_fits(state: dict, data_rng: torch.Generator) -> bool:
    """Whether `state`'s data stream can continue in `data_rng`: a generator's state is
    5,056 bytes on the CPU and 16 on CUDA, so one saved on another kind of device cannot."""
    return state["data"].numel() == data_rng.get_state().numel()


def set_rng_state(state: dict, data_rng: torch.Generator) -> None:
    """Restore what `rng_state` saved, so a resumed run draws the same numbers (the data stream
    only where `data_state_fits`). Of the saved per-GPU streams, those of the GPUs this
    machine has: a checkpoint from 2 GPUs continues on one with the first GPU's stream."""
    torch.set_rng_state(state["torch"])
    data_rng.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        saved, here = state["cuda"], torch.cuda.device_count()
        for index, cuda_state in enumerate(saved[:here]):
            torch.cuda.set_rng_state(cuda_state, index)
        if len(saved) != here:
            log.warning(
                "the checkpoint holds the random streams of %d GPU(s), this machine "
                "has %d: restored %d of them",
                len(saved),
                here,
                min(len(saved), here),
            )
