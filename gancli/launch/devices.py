"""Which device a command runs on: `train.device=auto|cpu|cuda|cuda:K` (and `eval.`,
`sample.`) as a `torch.device`, and the visible GPUs as an error names them."""

from __future__ import annotations

import os

import torch

from gancli.errors import GancliError


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
    tensor's `.device` compares equal to it. (`gancli.launch.jobs.JobDevices` gives each job of a
    sweep a GPU of its own.)"""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GancliError(f"{key}={choice} but no CUDA GPU is visible; use {key}=auto or cpu")
    if choice in ("auto", "cuda"):
        return torch.device("cuda", torch.cuda.current_device())
    index = int(choice.split(":", 1)[1])
    if index >= torch.cuda.device_count():
        raise GancliError(
            f"{key}={choice} but GPUs are numbered from 0 and {visible_gpus()}; "
            f"choose one of them, or {key}=auto"
        )
    return torch.device("cuda", index)
