"""Where code runs: device choice and random-number state."""

from __future__ import annotations

from enum import Enum

import torch

from gancli.errors import GancliError


def resolve_device(choice: str | Enum) -> torch.device:
    """`auto` → CUDA when present, else CPU; `cuda` without a GPU is an error, not a silent CPU."""
    name = getattr(choice, "value", choice)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GancliError("train.device=cuda but no CUDA GPU is visible; use train.device=auto "
                          "or cpu")
    return torch.device(name)


def rng_state(data_rng: torch.Generator) -> dict[str, object]:
    """Every random stream a training step draws from, for checkpoints."""
    state: dict[str, object] = {"torch": torch.get_rng_state(), "data": data_rng.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, data_rng: torch.Generator) -> None:
    """Restore what `rng_state` saved, so a resumed run draws the same numbers."""
    torch.set_rng_state(state["torch"])
    data_rng.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
