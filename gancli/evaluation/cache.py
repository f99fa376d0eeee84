"""The evaluation cache: trained domain classifiers and real-data features, keyed by what made them.

Both are expensive (a classifier trains for about a minute on a CPU; features of 60,000 real
images take seconds) and both are pure functions of their settings, so they are computed once and
stored under `GANCLI_CACHE` (default `$XDG_CACHE_HOME/gancli`, i.e. `~/.cache/gancli`), one file
per key. The key is a hash of every setting that changes the result, so a changed setting never
reads a stale entry. Entries are written atomically and hold tensors only (loaded with
`weights_only=True`): a corrupt entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

import torch

from gancli.data import TensorData
from gancli.data.store.cache import cache_dir
from gancli.files import atomic_write

log = logging.getLogger("gancli.eval")

#: Bump when a change to the code changes what a cached entry would hold.
CACHE_VERSION = 1


def content_hash(data: TensorData) -> str:
    """A hash of a dataset's pixels and labels, for the settings of entries computed from it: a
    key then follows the data, not its path (moved data still hits; changed data never does)."""
    if data.fingerprint is not None:  # prepared data: the manifest's hash of its files
        return data.fingerprint
    h = hashlib.sha256()
    h.update(data.rows.cpu().numpy().tobytes())
    h.update(data.y.numpy().tobytes())
    return h.hexdigest()[:16]


def numerics(device: torch.device) -> dict:
    """What besides its settings changes a network's output: the device type and, on CUDA,
    whether float32 matrix products and convolutions may round through TF32 (10-bit mantissa;
    cuDNN's switch is on by default). Features differ between these in their third or fourth
    significant digit, so real features cached from one are reused only where generated features
    come out the same way; FID between sets of differing numerics would carry that difference."""
    if device.type != "cuda":
        return {"device": device.type}
    return {
        "device": device.type,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }


def cache_key(kind: str, settings: dict) -> str:
    """A file name for `settings` (a JSON-able dict): readable kind, then a hash of the rest."""
    text = json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def cached(key: str, compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The cache entry `key`, computed by `compute` and stored when missing or unreadable."""
    path = cache_dir() / f"{key}.pt"
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a truncated or foreign file: recompute rather than trust it
            log.warning("ignoring unreadable cache entry %s (%s); recomputing", path, err)
    value = compute()
    try:
        atomic_write(path, lambda f: torch.save(value, f))
    except OSError as err:  # a read-only cache must not stop an evaluation
        log.warning(
            "could not write cache entry %s (%s); set GANCLI_CACHE to a writable folder to keep it",
            path,
            err,
        )
    return value
