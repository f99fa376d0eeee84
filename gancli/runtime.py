"""Where code runs: device choice and random-number state."""

from __future__ import annotations

import logging
import os

import torch

from gancli.errors import GancliError

log = logging.getLogger("gancli.train")


def visible_gpus() -> str:
    """The visible GPUs as a user recognises them: `cuda:0 (NVIDIA H200), ...`, with the
    `CUDA_VISIBLE_DEVICES` that chose them when one is set (a scheduler's, say)."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    names = ", ".join(f"cuda:{k} ({torch.cuda.get_device_name(k)})" for k in range(count))
    shown = f"{count} visible: {names}" if count else "none visible"
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    return shown if mask is None else f"{shown} (CUDA_VISIBLE_DEVICES={mask})"


def resolve_device(choice: str, key: str = "train.device") -> torch.device:
    """The device `key=choice` names: `auto` → the current GPU when one is visible, else the
    CPU; `cuda` → the current GPU; `cuda:K` → the K-th visible GPU. A GPU that is not there is
    an error naming the visible ones, not a silent CPU. GPUs come back with their index, so a
    tensor's `.device` compares equal to it. (`gancli.jobs.JobDevices` gives each job of a
    sweep a GPU of its own.)"""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GancliError(f"{key}={choice} but no CUDA GPU is visible; use {key}=auto or cpu")
    if choice in ("auto", "cuda"):
        return torch.device("cuda", torch.cuda.current_device())
    index = int(choice.split(":", 1)[1])
    if index >= torch.cuda.device_count():
        raise GancliError(f"{key}={choice} but GPUs are numbered from 0 and {visible_gpus()}; "
                          f"choose one of them, or {key}=auto")
    return torch.device("cuda", index)


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
            log.warning("the checkpoint holds the random streams of %d GPU(s), this machine "
                        "has %d: restored %d of them", len(saved), here, min(len(saved), here))
