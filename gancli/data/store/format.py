"""gancli's prepared datasets: decoded once, memory-mapped by every run (`data=prepared`).

A prepared dataset is a folder:

    manifest.json          what it holds (see `Manifest`) and a SHA-256 of every file
    train-pixels.npy       uint8 N×H×W×C, the images (NumPy's .npy: np.load(mmap_mode="r") reads it)
    train-labels.npy       int64 N, class labels
    train-inputs.npy       paired data only: uint8 N×h×w×c, each item's input image
    train-files.txt        data read from files: each item's file, relative to the source
    test-*                 the same for the test split
    captions.tsv|.json     kept from a source folder, for text conditioning

`.npy` is the format because NumPy maps it with no code of ours (stylegan2-ada's zip of PNGs has
to be decoded again on every read) and anyone can open it. Writing goes to a hidden folder beside
`out` that is renamed into place at the end, so an interrupted prepare leaves nothing behind.
Opening checks each file's size against the manifest (a truncated file is named at once);
`gancli data check` compares the SHA-256 sums.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from gancli.data import DataInfo, Split, TensorData, register_dataset
from gancli.errors import GancliError
from gancli.files import WriteFailed, atomic_write

FORMAT = "gancli-prepared"
VERSION = 1
MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """The SHA-256 of a file, read in 4 MiB chunks (files may be larger than memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class RowFile:
    """One `.npy` file of `count` rows, written in order at file offsets. NumPy writes its
    header (with room for the row count to change) and sizes the file; the rows then go
    through plain writes rather than a memory map, whose written pages would count as this
    process's resident memory until the whole dataset had passed through it."""

    def __init__(self, path: Path, dtype: type, shape: tuple[int, ...]) -> None:
        self.path, self.count, self.n = path, shape[0], 0
        if self.count == 0:  # NumPy cannot map an empty file: write the header only
            np.save(path, np.zeros(shape, dtype), allow_pickle=False)
            self.offset, self.file = 0, None
            return
        header = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        self.offset, self.row_shape, self.dtype = header.offset, shape[1:], np.dtype(dtype)
        del header
        self.file = open(path, "r+b")  # noqa: SIM115 (closed by `close`)
        self.file.seek(self.offset)

    def write(self, rows: np.ndarray) -> None:
        """Append `rows` (B×row_shape)."""
        if len(rows) == 0:
            return
        if self.n + len(rows) > self.count:
            raise ValueError(f"{self.path.name}: more than the {self.count} rows announced")
        if self.file is None:
            raise RuntimeError(f"{self.path.name}: rows written after close")
        self.file.write(np.ascontiguousarray(rows, dtype=self.dtype).data.cast("B"))
        self.n += len(rows)

    def close(self) -> None:
        """Flush, and trim the file to the rows written (rewriting its header)."""
        if self.file is None:
            return
        self.file.close()
        self.file = None
        if self.n < self.count:
            row = self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64))
            _shrink(self.path, self.offset, (self.n, *self.row_shape), row)


class SplitWriter:
    """Appends one split's rows to its `.npy` files, sized up front for `count` items; items
    skipped on the way are trimmed off at `close`."""

    def __init__(
        self,
        folder: Path,
        split: str,
        count: int,
        shape: tuple[int, int, int],
        inputs_shape: tuple[int, int, int] | None,
        with_files: bool,
    ) -> None:
        self.folder, self.split, self.count = folder, split, count
        self.shape, self.inputs_shape = tuple(shape), inputs_shape
        self.n = 0
        self.pixels = self._file("pixels", np.uint8, (count, *shape))
        self.labels = self._file("labels", np.int64, (count,))
        self.inputs = (
            None if inputs_shape is None else self._file("inputs", np.uint8, (count, *inputs_shape))
        )
        self.files: list[str] | None = [] if with_files else None

    def _file(self, part: str, dtype: type, shape: tuple[int, ...]) -> RowFile:
        return RowFile(self.folder / f"{self.split}-{part}.npy", dtype, shape)

    def append(
        self,
        pixels: np.ndarray,
        labels: np.ndarray,
        inputs: np.ndarray | None = None,
        files: list[str] | None = None,
    ) -> None:
        """Add a batch of rows (uint8 B×H×W×C pixels, their labels, inputs and file names)."""
        if self.n + len(pixels) > self.count:
            raise ValueError(f"{self.split}: more than the {self.count} items announced")
        self.pixels.write(pixels)
        self.labels.write(np.asarray(labels))
        if self.inputs is not None:
            if inputs is None:
                raise RuntimeError(f"{self.split}: a split of pairs needs the batch's inputs")
            self.inputs.write(inputs)
        if self.files is not None:
            self.files.extend(files or [])
        self.n += len(pixels)

    def close(self) -> int:
        """Flush the rows and trim the files to the items written; returns their count."""
        for part in (self.pixels, self.labels, self.inputs):
            if part is not None:
                part.close()
        if self.files is not None:
            (self.folder / f"{self.split}-files.txt").write_text(
                "".join(f"{name}\n" for name in self.files), encoding="utf-8"
            )
        return self.n


def _shrink(path: Path, offset: int, shape: tuple[int, ...], row: int) -> None:
    """Rewrite `path`'s .npy header for `shape` (fewer rows) within its `offset` bytes, and cut
    the file after the last row. NumPy leaves room in its headers for the first axis to change
    but has no public function to rewrite one, hence this."""
    with open(path, "r+b") as f:
        f.seek(0)
        magic = f.read(8)  # \x93NUMPY, version 1.0
        f.seek(8)
        length = int.from_bytes(f.read(2), "little")
        f.seek(10)
        old = f.read(length).decode("latin1")
        descr = old.split("'descr': ")[1].split(",")[0]
        text = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape!r}, }}"
        if len(text) + 1 > length:
            raise ValueError(f"cannot shrink {path}: header too small")
        f.seek(0)
        f.write(magic + length.to_bytes(2, "little") + (text.ljust(length - 1) + "\n").encode())
        f.truncate(offset + row * shape[0])


@dataclass
class PreparedWriter:
    """Writes a prepared dataset into a hidden folder beside `out`, renamed to `out` by
    `finish`. Used as a context manager: leaving it with an exception (Ctrl-C included)
    removes the hidden folder, so an interrupted prepare leaves nothing."""

    out: Path
    overwrite: bool = False
    splits: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shape: tuple[int, ...] | None = None  # H×W×C, set by the first split done
        self.out = Path(self.out).expanduser()
        check_out(self.out, self.overwrite)
        self.tmp = partial_folder(self.out, "the prepared dataset")

    def __enter__(self) -> PreparedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def split(
        self,
        name: str,
        count: int,
        shape: tuple[int, int, int],
        inputs_shape: tuple[int, int, int] | None = None,
        with_files: bool = False,
    ) -> SplitWriter:
        """A writer for split `name` of at most `count` items of H×W×C `shape`."""
        return SplitWriter(self.tmp, name, count, shape, inputs_shape, with_files)

    def add(
        self,
        name: str,
        pixels: np.ndarray,
        labels: np.ndarray,
        inputs: np.ndarray | None = None,
        files: list[str] | None = None,
    ) -> None:
        """A whole split at once (datasets decoded in memory)."""
        writer = self.split(
            name,
            len(pixels),
            pixels.shape[1:],
            None if inputs is None else inputs.shape[1:],
            files is not None,
        )
        writer.append(pixels, labels, inputs, files)
        self.done(name, writer)

    def done(self, name: str, writer: SplitWriter) -> None:
        """Close split `name`'s writer and record it."""
        self.splits[name] = {"count": writer.close()}
        if writer.inputs_shape is not None:
            self.splits[name]["inputs_shape"] = list(writer.inputs_shape)
        self.shape = writer.shape

    def extra(self, path: Path) -> None:
        """Keep a file of the source (captions) beside the arrays."""
        shutil.copyfile(path, self.tmp / path.name)

    def finish(
        self,
        name: str,
        num_classes: int,
        classes: list[str],
        source: str,
        settings: dict,
        summary: dict | None = None,
        command: str | None = None,
    ) -> Path:
        """Write the manifest and move the folder to `out` (replacing it with overwrite=true)."""
        files = {
            p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(self.tmp.iterdir())
        }
        if self.shape is None:
            raise RuntimeError("finish before any split was done: the dataset's shape is unknown")
        h, w, c = self.shape
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "kind": "image",
            "shape": [c, h, w],
            "num_classes": num_classes,
            "classes": classes,
            "splits": self.splits,
            "source": source,
            "settings": settings,
            "command": command,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "summary": summary or {},
            "files": files,
            "fingerprint": hashlib.sha256(
                json.dumps({k: v["sha256"] for k, v in files.items()}, sort_keys=True).encode()
            ).hexdigest()[:16],
        }
        atomic_write(
            self.tmp / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=1).encode())
        )
        replace_folder(self.tmp, self.out)
        return self.out


def replace_folder(done: Path, out: Path) -> None:
    """Move the finished folder `done` to `out`, replacing what `out` held: the old folder is
    moved aside first and removed after, so `out` is always the whole old or the whole new."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(done, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def partial_folder(out: Path, what: str) -> Path:
    """A new hidden folder beside `out` to write `what` into before it takes `out`'s place."""
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as err:
        raise WriteFailed(f"cannot write {what} beside {out}: {err.strerror or err}") from None
    return tmp


@contextmanager
def folder_writer(out: Path, what: str) -> Iterator[Path]:
    """A hidden folder beside `out` to write `what` into, which replaces `out` when the block
    ends and is removed if it raises (Ctrl-C included): `out` is never half written."""
    tmp = partial_folder(out, what)
    try:
        yield tmp
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_out(out: Path, overwrite: bool, what: str = "the prepared dataset") -> None:
    """Refuse to write `what` over something that holds files, unless `overwrite`."""
    if out.is_file():
        raise GancliError(f"out={out} is a file: give a folder for {what}")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise GancliError(
            f"out={out} exists and is not empty: choose another folder, or add "
            "overwrite=true to replace it"
        )


# -- reading --------------------------------------------------------------------------------------


def read_manifest(root: Path) -> dict:
    """The manifest of the prepared dataset in `root`, with a one-line error for anything that
    is not one."""
    path = root / MANIFEST
    if not root.is_dir():
        raise GancliError(
            f"{root} is not a folder: give a prepared dataset (made by gancli data prepare)"
        )
    if not path.is_file():
        raise GancliError(
            f"{root} holds no {MANIFEST}: it is not a prepared dataset (make one "
            f"with gancli data prepare source={root} out=DIR)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise GancliError(f"{path} is unreadable ({err}); prepare the dataset again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise GancliError(f"{path} is not a gancli prepared-dataset manifest")
    if manifest.get("version", 0) > VERSION:
        raise GancliError(
            f"{root} was prepared by a newer gancli (format version "
            f"{manifest['version']}; this one reads {VERSION}): upgrade gancli"
        )
    return manifest


def check_sizes(root: Path, manifest: dict, names: list[str]) -> None:
    """Each of `names` exists with the size the manifest records: a truncated or replaced file
    is named before anything reads it."""
    for name in names:
        want = manifest["files"].get(name, {}).get("bytes")
        path = root / name
        if not path.is_file():
            raise GancliError(f"{path} is missing from the prepared dataset; prepare it again")
        if want is not None and path.stat().st_size != want:
            raise GancliError(
                f"{path} is {path.stat().st_size} bytes, the manifest says {want}: "
                "the file is truncated or was changed; prepare the dataset again"
            )


def verify(root: Path) -> dict:
    """Compare every file's SHA-256 with the manifest (`gancli data check`); returns the
    manifest. The first file that differs is named in a one-line error."""
    manifest = read_manifest(root)
    names = sorted(manifest["files"])
    check_sizes(root, manifest, names)
    for name in names:
        if sha256_file(root / name) != manifest["files"][name]["sha256"]:
            raise GancliError(
                f"{root / name} differs from the manifest's SHA-256: the file was "
                "changed or damaged; prepare the dataset again"
            )
    return manifest


def map_rows(path: Path) -> torch.Tensor:
    """A `.npy` file as a tensor backed by a private (copy-on-write) memory map: nothing is read
    until used, pages are shared with every other process mapping the file, and torch gets a
    writable array (it warns on read-only ones) without anything ever being written back."""
    arr = np.load(path, mmap_mode="c", allow_pickle=False)
    if arr.size == 0:
        return torch.from_numpy(np.array(arr))
    return torch.from_numpy(arr)


def open_prepared(root: Path, split: Split) -> TensorData:
    """Split `split` of the prepared dataset in `root`, memory-mapped."""
    root = Path(root).expanduser()
    manifest = read_manifest(root)
    entry = manifest["splits"].get(split)
    if entry is None or entry["count"] == 0:
        counts = ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
        raise GancliError(
            f"{manifest.get('source') or root} has no {split} items (its splits: "
            f"{counts}; a folder's test split is 10% of its images)"
        )
    names = [n for n in manifest["files"] if n.startswith(f"{split}-")]
    check_sizes(root, manifest, names)
    pixels_path = root / f"{split}-pixels.npy"
    rows = map_rows(pixels_path)
    labels = torch.from_numpy(np.load(root / f"{split}-labels.npy", allow_pickle=False))
    inputs = map_rows(root / f"{split}-inputs.npy") if f"{split}-inputs.npy" in names else None
    files = None
    if f"{split}-files.txt" in names:
        files = [
            root / line
            for line in (root / f"{split}-files.txt").read_text(encoding="utf-8").splitlines()
        ]
    cond = None if inputs is None else tuple(inputs.permute(0, 3, 1, 2).shape[1:])
    info = DataInfo(
        manifest["name"], "image", tuple(manifest["shape"]), manifest["num_classes"], cond
    )
    return TensorData(
        info,
        rows,
        labels,
        inputs=inputs,
        files=files,
        fingerprint=f"{manifest['fingerprint']}-{split}",
        path=pixels_path,
    )


@register_dataset("prepared")
def load_prepared(cfg: DictConfig, split: Split) -> TensorData:
    """A dataset made by `gancli data prepare`, in `cfg.root`."""
    if cfg.root is None:
        raise GancliError(
            "data.root is not set: point it at a folder made by gancli data "
            "prepare (data=prepared data.root=DIR)"
        )
    return open_prepared(Path(cfg.root), split)
