"""`gancli data prepare`: decode a dataset once into gancli's prepared format, with a progress
bar while it runs and a table of what was done to the images at the end.

`source=PATH` is the short way to prepare a folder or .zip of images (it sets `data.root` of
`data=folder`, whose keys say how images are converted); `data=<name>` prepares a built-in
dataset from its original files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from rich import progress as rp
from rich.table import Table

from gancli.data.store.cache import prepare_into
from gancli.data.store.format import check_out, read_manifest
from gancli.data.store.sources import SOURCES, Progress
from gancli.errors import ConfigError
from gancli.log import console
from gancli.registry import unknown_name
from gancli.threads import choose_threads

log = logging.getLogger("gancli")

#: Skipped files named in the summary; the rest are counted (the manifest names them all).
SHOWN_SKIPPED = 10


@dataclass
class Bar(Progress):
    """A rich progress bar on stderr, one line per stage; a context manager that removes the
    bar's live display at the end. It starts with the first stage, so a source that reports
    none (one decoded in memory) draws nothing."""

    def __post_init__(self) -> None:
        self.bar = rp.Progress(
            rp.TextColumn("{task.description}"),
            rp.BarColumn(),
            rp.MofNCompleteColumn(),
            rp.TimeElapsedColumn(),
            rp.TimeRemainingColumn(),
            console=console(),
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task: rp.TaskID | None = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.bar.stop()

    def start(self, what: str, total: int) -> None:
        if self.task is None:
            self.bar.start()
        self.task = self.bar.add_task(what, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)


def data_to_prepare(cfg: DictConfig) -> DictConfig:
    """The data config to decode: `cfg.data`, with `data.root` from `source=`."""
    if not cfg.out:
        raise ConfigError("give out=DIR: the folder to write the prepared dataset to")
    data = cfg.data.copy()
    if cfg.source is not None:
        if data.name != "folder":
            raise ConfigError(
                f"source= is the folder or .zip of images of data=folder; for "
                f"data={data.name} set data.root=... instead"
            )
        data.root = cfg.source
    elif data.name == "folder" and data.root is None:
        raise ConfigError(
            "give source=FOLDER_OR_ZIP (images, class sub-folders become labels) "
            "or data=NAME (a built-in dataset) to prepare"
        )
    if data.name not in SOURCES:
        raise ConfigError(
            f"data={data.name} cannot be prepared: "
            f"{unknown_name('image dataset', data.name, SOURCES)}"
        )
    SOURCES[data.name].identity(data)  # missing files and bad settings: before anything runs
    return data


def summary_table(manifest: dict, seconds: float) -> Table:
    """What the prepare did to the images, one row per kind of change."""
    summary = manifest["summary"]
    counts = {split: entry["count"] for split, entry in manifest["splits"].items()}
    kept = sum(counts.values())
    fit = manifest["settings"].get("fit")
    table = Table(
        title=f"data={manifest['name']} prepared: {kept} images in {seconds:.1f} s "
        f"({kept / max(seconds, 1e-9):.0f} images/s)",
        title_justify="left",
    )
    table.add_column("images")
    table.add_column("count", justify="right")
    table.add_row("kept", f"{kept} ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    rows = [
        ("converted (channels, bit depth)", "converted"),
        (f"made square (fit={fit})" if fit else "made square", "cropped"),
        ("resized", "resized"),
    ]
    for label, key in rows:
        if key in summary:
            table.add_row(label, str(summary[key]))
    skipped = summary.get("skipped", [])
    table.add_row("skipped (could not be decoded)", str(len(skipped)))
    for file, why in skipped[:SHOWN_SKIPPED]:
        table.add_row(f"  {file}", why)
    if len(skipped) > SHOWN_SKIPPED:
        table.add_row(f"  and {len(skipped) - SHOWN_SKIPPED} more", "(see manifest.json)")
    return table


def prepare(cfg: DictConfig, command: str) -> Path:
    """Decode `cfg`'s dataset into `cfg.out` and show the summary; returns the folder."""
    data = data_to_prepare(cfg)
    out = Path(cfg.out).expanduser()
    check_out(out, cfg.overwrite)  # before any decoding
    threads = choose_threads(cfg.threads, "threads", torch.device("cpu"))
    started = time.perf_counter()
    with Bar(workers=cfg.workers, strict=cfg.strict) as bar:
        path = prepare_into(data, out, bar, overwrite=cfg.overwrite, command=command)
    console().print(summary_table(read_manifest(path), time.perf_counter() - started))
    log.info("%s", threads)
    return path
