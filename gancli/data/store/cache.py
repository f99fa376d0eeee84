"""Built-in datasets prepared on first use: `data=mnist` decodes the IDX files once into the
prepared format under `GANCLI_CACHE/data/` (default `~/.cache/gancli/data/`); every later run
maps that copy and starts at once.

The copy's folder is named by a hash of its source's `identity` (the settings and the source
files' names, sizes and modification times), so a changed file or `data.resolution` makes a new
copy and never reads a stale one. Where the cache cannot be written, the copy goes to a
temporary folder for this process only (and a warning says how to keep it).

`register_source` makes a `Source` a `data=` choice whose loader is this cache.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

from omegaconf import DictConfig, OmegaConf

from gancli.data import DATASETS, Split, TensorData
from gancli.data.store.format import MANIFEST, PreparedWriter, open_prepared
from gancli.data.store.sources import SOURCES, Progress, Source

log = logging.getLogger("gancli.data")


def cache_dir() -> Path:
    """Where cached entries live: `GANCLI_CACHE`, else `$XDG_CACHE_HOME/gancli`."""
    if env := os.environ.get("GANCLI_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gancli"


def cached_folder(cfg: DictConfig) -> Path:
    """The name of `cfg`'s prepared copy in the cache (it may not exist yet)."""
    source = SOURCES.lookup(cfg.name)
    identity = {"source": cfg.name, "version": source.version, **source.identity(cfg)}
    text = json.dumps(identity, sort_keys=True, default=str)
    return cache_dir() / "data" / f"{cfg.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def prepare_into(
    cfg: DictConfig,
    out: Path,
    progress: Progress | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> Path:
    """Decode `cfg`'s dataset into a prepared dataset at `out`."""
    source = SOURCES.lookup(cfg.name)
    with PreparedWriter(out, overwrite=overwrite) as writer:
        written = source.write(cfg, writer, progress or Progress())
        settings = cast(dict, OmegaConf.to_container(cfg, resolve=True))  # a DictConfig's: a dict
        settings.pop("placement", None)  # how a run reads it, not what it holds
        return writer.finish(
            cfg.name,
            written.num_classes,
            written.classes,
            written.source,
            settings,
            written.summary.to_dict(),
            command,
        )


_temporary: list[Path] = []


def _remove_temporary() -> None:
    """At exit: remove the copies prepared for one run where the cache was not writable."""
    for path in _temporary:
        shutil.rmtree(path, ignore_errors=True)


def ensure_cached(cfg: DictConfig) -> Path:
    """`cfg`'s prepared copy, made now if the cache lacks it. Processes that need the same copy
    at once (the ranks of a torchrun job, the jobs of a sweep) take turns on a lock file: one
    prepares, the others then find its copy."""
    folder = cached_folder(cfg)
    if (folder / MANIFEST).is_file():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.with_name(f".{folder.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (folder / MANIFEST).is_file():  # another process prepared it meanwhile
                return folder
            log.info(
                "preparing data=%s once into %s (later runs open it at once)", cfg.name, folder
            )
            return prepare_into(cfg, folder, overwrite=True)
    except OSError as err:
        tmp = Path(tempfile.mkdtemp(prefix="gancli-data-"))
        if not _temporary:
            atexit.register(_remove_temporary)
        _temporary.append(tmp)
        log.warning(
            "cannot write the data cache %s (%s): preparing data=%s into %s for this "
            "run only; set GANCLI_CACHE to a writable folder to keep it",
            folder,
            getattr(err, "strerror", None) or err,
            cfg.name,
            tmp,
        )
        return prepare_into(cfg, tmp / "data", overwrite=True)


def open_cached(cfg: DictConfig, split: Split) -> TensorData:
    """Split `split` of `cfg`'s dataset, from its prepared copy."""
    return open_prepared(ensure_cached(cfg), split)


def register_source(name: str) -> Callable[[type[Source]], type[Source]]:
    """Class decorator: make a `Source` subclass available as `data=<name>`, loaded through
    its prepared copy in the cache."""

    def register(cls: type[Source]) -> type[Source]:
        SOURCES.register(name)(cls())
        DATASETS.register(name)(open_cached)
        return cls

    return register
