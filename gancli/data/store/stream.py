"""Where a training run keeps its data (`data.placement`), and the reader that streams batches
from a prepared file when the data stays on disk.

- `device`: the uint8 rows are where the model is: copied once to the GPU (4× less than the
  float copy gancli used to hold), or, on the CPU, the memory-mapped file itself, whose pages the
  OS page cache shares between every process of a torchrun job.
- `stream`: each batch is read from the file with positioned reads (`os.preadv`) into a fresh
  (pinned, for a GPU) buffer by a background thread that stays `depth` batches ahead, so the
  device does not wait. Reads instead of a memory map keep this process's resident memory at a
  few batches: pages of a map count as resident once touched, and would grow to the dataset's
  size over a long run. The page cache still holds one copy for all processes.

A streamed run draws its batch indices from its own CPU generator, ahead of time; its state in
a checkpoint is that of the first batch not yet trained on (`Prefetcher.state`), so a resumed run
continues bit for bit. The batches differ from those of `device` placement with the same seed,
which draws its indices from the loop's data generator on the training device.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import replace

import torch

from gancli.data import TensorData
from gancli.errors import GancliError

log = logging.getLogger("gancli.data")

#: `auto` keeps data on a GPU up to this share of its memory, on the CPU up to this share of
#: the memory available.
GPU_SHARE = 0.25
CPU_SHARE = 0.5


def available_memory() -> int:
    """Bytes of memory the OS says are available (Linux), else the physical total."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def choose(data: TensorData, device: torch.device, placement: str) -> str:
    """`device` or `stream` for `placement` (auto decides by size, see `GPU_SHARE`)."""
    if placement != "auto":
        if placement == "stream" and data.path is None:
            raise GancliError(
                f"data.placement=stream needs data read from a prepared file; "
                f"data={data.info.name} is held in memory: use placement=device"
            )
        return placement
    if data.path is None or data.rows.dtype != torch.uint8:
        return "device"
    size = data.rows.nbytes + (0 if data.inputs is None else data.inputs.nbytes)
    if device.type == "cuda":
        budget = GPU_SHARE * torch.cuda.get_device_properties(device).total_memory
    else:
        budget = CPU_SHARE * available_memory()
    return "device" if size <= budget else "stream"


def place(data: TensorData, device: torch.device, placement: str, seed: int) -> TensorData:
    """`data` as a run on `device` draws its batches from it (see the module docstring);
    `seed` starts a streamed run's index generator."""
    where = choose(data, device, placement)
    placed = replace(data, device=device, y=data.y.to(device))
    if where == "device":
        placed.rows = data.rows.to(device)
        if data.inputs is not None:
            placed.inputs = data.inputs.to(device)
        return placed
    log.info("streaming %s (%.0f MB) from %s", data.info.name, data.rows.nbytes / 2**20, data.path)
    placed.stream = Prefetcher(placed, torch.Generator().manual_seed(seed))
    return placed


class Prefetcher:
    """Reads batches of a prepared file in a background thread, `depth` batches ahead."""

    def __init__(self, data: TensorData, generator: torch.Generator, depth: int = 3) -> None:
        self.data, self.generator, self.depth = data, generator, depth
        rows = data.rows
        self.row_bytes = rows[0].nbytes if len(rows) else 0
        if data.path is None:  # `choose` streams only data read from a prepared file
            raise RuntimeError(f"{data.info.name} is held in memory: it cannot be streamed")
        self.offset = _npy_offset(data.path)
        self.pin = data.device.type == "cuda"
        self._fd = os.open(data.path, os.O_RDONLY)
        self._state = generator.get_state()
        self._queue: queue.Queue = queue.Queue(depth)  # replaced by each reader's own
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._size = 0

    # -- the consumer's side --------------------------------------------------------------------

    def next(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: indices and images on the training device."""
        if self._thread is None or size != self._size:
            self._start(size)
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        idx, pixels, after = item
        self._state = after
        return idx.to(self.data.device, non_blocking=True), self.data.to_model(pixels)

    def state(self) -> torch.Tensor:
        """The index generator's state before the first batch not yet returned by `next`."""
        return self._state

    def load_state(self, state: torch.Tensor) -> None:
        """Continue from `state` (a checkpoint's): batches read ahead are dropped."""
        self.close()
        self.generator.set_state(state)
        self._state = state

    def close(self) -> None:
        """Stop the reader thread."""
        if self._thread is not None:
            self._stop.set()
            while self._thread.is_alive():
                try:  # unblock a reader waiting on a full queue
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(0.01)
            self._thread = None
        self._stop = threading.Event()

    def __del__(self) -> None:
        if hasattr(self, "_fd"):
            self.close()
            os.close(self._fd)

    # -- the reader's side ----------------------------------------------------------------------

    def _start(self, size: int) -> None:
        self.close()
        self.generator.set_state(self._state)
        self._size, self._queue = size, queue.Queue(self.depth)
        self._thread = threading.Thread(
            target=self._run, args=(self._stop, self._queue), name="gancli-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, stop: threading.Event, out: queue.Queue) -> None:
        try:
            while not stop.is_set():
                idx = self.data.indices(self._size, self.generator)
                item = (idx, self.read(idx), self.generator.get_state())
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as err:  # the consumer re-raises it in the training thread
            out.put(err)

    def read(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows `idx` of the file, read in file order into one buffer."""
        shape = (len(idx), *self.data.rows.shape[1:])
        buf = torch.empty(shape, dtype=torch.uint8, pin_memory=self.pin)
        flat = buf.view(len(idx), -1).numpy()
        for pos in torch.argsort(idx).tolist():
            start = self.offset + int(idx[pos]) * self.row_bytes
            if os.preadv(self._fd, [flat[pos]], start) != self.row_bytes:
                raise GancliError(
                    f"{self.data.path} ended before item {int(idx[pos])}: the "
                    "file is truncated; run gancli data check on its folder"
                )
        return buf


def _npy_offset(path: os.PathLike) -> int:
    """Where the rows of a `.npy` file begin (after its header)."""
    import numpy as np

    return np.load(path, mmap_mode="r").offset
