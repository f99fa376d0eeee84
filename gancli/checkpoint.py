"""Checkpoints: a dict of tensors and plain values that `torch.load(weights_only=True)` reads.

A checkpoint holds G, D, the EMA G, both optimizers' states, the step, every RNG state and the
composed config as YAML text, so that resuming is a true continuation and sampling needs nothing
but the file. Loading never executes code: torch's weights-only unpickler refuses anything but
tensors and plain containers, and whatever it lets through is checked for gancli's format marker.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import torch

from gancli.errors import GancliError
from gancli.files import WriteFailed, atomic_write

FORMAT = "gancli-checkpoint"
VERSION = 1
REQUIRED = ("step", "config", "data_info", "G", "D")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically: the previous file stays intact until the new one is complete. A
    failed write (a full disk: torch's writer reports it as a RuntimeError) is one
    `WriteFailed` line naming the file and the free space left."""
    path = Path(path)

    def write(f: BinaryIO) -> None:
        try:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, f)
        except RuntimeError as err:
            raise OSError(errno.EIO, f"the write failed ({_first_line(err)[:80]})") from None

    try:
        return atomic_write(path, write)
    except WriteFailed as err:
        raise WriteFailed(f"{err}; {free_space(path.parent)} free on its disk") from None


def free_space(folder: Path) -> str:
    """The free space of `folder`'s file system, for a person ("1.2 GB")."""
    try:
        free: float = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    except OSError:
        return "unknown space"
    for unit in ("bytes", "KB", "MB", "GB"):
        if free < 1000 or unit == "GB":
            return f"{free:.0f} {unit}" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1000
    return f"{free:.1f} TB"


def remove_stale(folder: Path) -> list[Path]:
    """Delete the temporary files an earlier process left in `folder` when it was killed in
    the middle of a write (`gancli.files.atomic_write` names them `.<name>.tmp`)."""
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def keep_snapshots(last: Path, step: int, keep: int) -> None:
    """Keep `last` (just written) as `step_<step>.pt` beside it, and only the `keep` newest
    such snapshots. A hard link where the file system has them (no second copy on disk)."""
    snapshot = last.with_name(f"step_{step}.pt")
    snapshot.unlink(missing_ok=True)
    try:
        os.link(last, snapshot)
    except OSError:
        atomic_write(snapshot, lambda f: f.write(last.read_bytes()))
    numbered = sorted(
        (int(p.stem.split("_")[1]), p)
        for p in last.parent.glob("step_*.pt")
        if p.stem.split("_")[1].isdigit()
    )
    for _, old in numbered[:-keep]:
        old.unlink(missing_ok=True)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (→ its `checkpoints/last.pt`)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "checkpoints" / "last.pt"
    if not p.is_file():
        raise GancliError(
            f"checkpoint not found: {p} (give a run folder or a .pt file written by gancli train)"
        )
    return p


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """Load and validate a gancli checkpoint onto the CPU, refusing anything else. `mmap`
    maps the tensors instead of reading them: what only wants the step and config reads a
    few kilobytes of the file."""
    p = resolve_checkpoint(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):
            raise GancliError(
                f"{p} contains pickled Python objects that could run code "
                "when loaded; refusing it (gancli checkpoints hold tensors only)"
            ) from None
        raise GancliError(
            f"{p} is not a gancli checkpoint (unreadable: {_first_line(err)})"
        ) from None
    except Exception as err:  # truncated zip, EOF, wrong file type: all mean "not readable"
        raise GancliError(
            f"{p} is truncated or not a checkpoint ({_first_line(err)}); use "
            "another checkpoint, e.g. the run's checkpoints/last.pt"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GancliError(f"{p} is not a gancli checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version", 0) > VERSION:
        raise GancliError(
            f"{p} was written by a newer gancli (format {ckpt['version']}); "
            "upgrade gancli to read it"
        )
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise GancliError(f"{p} is an incomplete gancli checkpoint (missing {', '.join(missing)})")
    return ckpt


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:200]
