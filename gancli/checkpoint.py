"""Checkpoints: a dict of tensors and plain values that `torch.load(weights_only=True)` reads.

A checkpoint holds G, D, the EMA G, both optimizers' states, the step, every RNG state and the
composed config as YAML text, so that resuming is a true continuation and sampling needs nothing
but the file. Loading never executes code: torch's weights-only unpickler refuses anything but
tensors and plain containers, and whatever it lets through is checked for gancli's format marker.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from gancli.errors import GancliError
from gancli.files import atomic_write

FORMAT = "gancli-checkpoint"
VERSION = 1
REQUIRED = ("step", "config", "data_info", "G", "D")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically: the previous file stays intact until the new one is complete."""
    return atomic_write(path, lambda f: torch.save({"format": FORMAT, "version": VERSION,
                                                    **payload}, f))


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (→ its `checkpoints/last.pt`)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "checkpoints" / "last.pt"
    if not p.is_file():
        raise GancliError(f"checkpoint not found: {p} (give a run folder or a .pt file written "
                          "by gancli train)")
    return p


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a gancli checkpoint onto the CPU, refusing anything else."""
    p = resolve_checkpoint(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):
            raise GancliError(f"{p} contains pickled Python objects that could run code "
                              "when loaded; refusing it (gancli checkpoints hold tensors only)"
                              ) from None
        raise GancliError(f"{p} is not a gancli checkpoint (unreadable: {_first_line(err)})"
                          ) from None
    except Exception as err:  # truncated zip, EOF, wrong file type: all mean "not readable"
        raise GancliError(f"{p} is truncated or not a checkpoint ({_first_line(err)}); use "
                          "another checkpoint, e.g. the run's checkpoints/last.pt") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GancliError(f"{p} is not a gancli checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version", 0) > VERSION:
        raise GancliError(f"{p} was written by a newer gancli (format {ckpt['version']}); "
                          "upgrade gancli to read it")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise GancliError(f"{p} is an incomplete gancli checkpoint (missing {', '.join(missing)})")
    return ckpt


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:200]
